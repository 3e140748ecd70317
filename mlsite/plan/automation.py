"""``mlsite up | preview | refresh | destroy``: the Pulumi Automation API, local backend.

The Automation API drives the Pulumi CLI; without the CLI these commands say so in one
line and point to the offline ``mlsite plan``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Literal

Operation = Literal["up", "preview", "refresh", "destroy"]

INSTALL = "curl -fsSL https://get.pulumi.com | sh"
STATE_DIR = ".pulumi-state"
"""Default backend: ``file://<project>/.pulumi-state`` (no Pulumi account needed)."""


class NotAvailable(RuntimeError):
    """What is missing to run the engine here, in one line."""


def backend_url(root: Path) -> str:
    """``$PULUMI_BACKEND_URL``, else a file backend inside the project."""
    return os.environ.get("PULUMI_BACKEND_URL") or f"file://{root / STATE_DIR}"


def preflight(stack: str, root: Path) -> dict[str, str]:
    """The environment for the engine, or ``NotAvailable`` saying what to fix."""
    if shutil.which("pulumi") is None:
        raise NotAvailable(
            f"the Pulumi CLI is not installed (install: `{INSTALL}`); to review offline without it "
            f"run `mlsite plan --stack {stack}` or `mlsite diff --stack {stack} --base main`"
        )
    url = backend_url(root)
    if url.startswith("file://"):
        if not any(
            os.environ.get(k) for k in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
        ):
            raise NotAvailable(
                "a local backend encrypts secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE "
                "(or PULUMI_CONFIG_PASSPHRASE_FILE)"
            )
        Path(url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    return {"PULUMI_BACKEND_URL": url}


def run(op: Operation, stack: str, root: Path, echo: Callable[[str], None]) -> None:
    """Run ``op`` on ``stack`` of the project at ``root``, streaming the engine's output."""
    env = preflight(stack, root)
    from pulumi import automation as auto

    ws_opts = auto.LocalWorkspaceOptions(work_dir=str(root), env_vars=env)
    st = auto.create_or_select_stack(stack_name=stack, work_dir=str(root), opts=ws_opts)
    if op == "preview":
        st.preview(on_output=echo, diff=True)
    elif op == "up":
        st.up(on_output=echo, diff=True)
    elif op == "refresh":
        st.refresh(on_output=echo)
    else:
        st.destroy(on_output=echo)

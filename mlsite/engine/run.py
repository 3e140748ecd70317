"""Running the Pulumi engine on a stack: ``mlsite up | preview | refresh | destroy``.

These commands are plain ``pulumi`` commands with the environment set up: the CLI of
``make setup`` first on PATH, no plugin ever downloaded, no update check, a file backend
and passphrase secrets unless the user chose otherwise. Their output is Pulumi's own, live,
resource by resource. ``engine_env`` is also what tests and benchmarks run the CLI with.

Backends: ``$PULUMI_BACKEND_URL`` when set; else a lab site (every host ``lab: true``) keeps
its stack in the lab's state directory, because ``mlsite lab down`` takes the hosts that
state describes away (and forgets the stack with them); any other site keeps it in
``.pulumi-state/`` of the project. Secrets: the passphrase provider, from
``PULUMI_CONFIG_PASSPHRASE(_FILE)``; a lab generates its own once (mode 0600).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from mlsite.spec import SiteSpec

Operation = Literal["up", "preview", "refresh", "destroy"]

STATE_DIR = ".pulumi-state"
"""The project's default file backend: ``file://<project>/.pulumi-state``."""
PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
ENGINE_VARS = (
    "PATH",
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_SKIP_UPDATE_CHECK",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
    "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING",
)
"""What ``mlsite env`` prints (never a passphrase itself: only the file holding it)."""


class NotAvailable(RuntimeError):
    """What is missing to run the engine here, in one line."""


def is_lab(site: SiteSpec) -> bool:
    """A lab site: every host is a lab host."""
    return bool(site.hosts) and all(h.lab for h in site.hosts)


def bin_dir() -> Path:
    """Where ``make setup`` puts the toolchain: the running interpreter's directory."""
    return Path(sys.executable).parent


def pulumi_cli() -> Path:
    """The ``pulumi`` to run: the virtualenv's (``make setup``), else one on PATH."""
    local = bin_dir() / "pulumi"
    if local.exists():
        return local
    found = shutil.which("pulumi")
    if found is None:
        raise NotAvailable(
            "the Pulumi CLI is not installed: run `make setup` (it builds the pinned CLI from "
            "Go modules), or review offline with `mlsite plan` / `mlsite diff`"
        )
    return Path(found)


def lab_engine_dir() -> Path:
    """The lab's engine files: its file backend and its passphrase."""
    from mlsite.lab.paths import LabDirs

    return LabDirs.from_env().state / "pulumi"


def lab_secrets_file() -> Path:
    """Where the lab's generated ``env:`` secrets are kept (mode 0600)."""
    return lab_engine_dir().parent / "secrets.env"


def lab_passphrase(stack_file: Path) -> Path:
    """The lab's passphrase file, generated once (mode 0600). A new passphrase cannot read
    secrets sealed under an old one, so the stack file's stale ``encryptionsalt`` line (a
    purged lab's) is dropped with it; a lab stack file with ``secure:`` values is refused
    instead, since those would be lost."""
    path = lab_engine_dir().parent / "pulumi-passphrase"
    if path.is_file():
        return path
    if stack_file.is_file():
        text = stack_file.read_text()
        if re.search(r"^encryptionsalt:", text, re.MULTILINE):
            if "secure:" in text:
                raise NotAvailable(
                    f"{stack_file} holds `secure:` values sealed under a lab passphrase that "
                    "is gone; set PULUMI_CONFIG_PASSPHRASE to that passphrase, or re-set them"
                )
            stack_file.write_text(re.sub(r"^encryptionsalt:.*\n", "", text, flags=re.MULTILINE))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return path


def engine_env(root: Path, site: SiteSpec, stack_file: Path) -> dict[str, str]:
    """The environment the Pulumi CLI runs with for a stack of this project."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir()), env.get("PATH", "")])
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
    env.setdefault("PULUMI_DIY_BACKEND_NO_LEGACY_WARNING", "true")
    lab = is_lab(site)
    if not env.get("PULUMI_BACKEND_URL"):
        state = lab_engine_dir() if lab else root / STATE_DIR
        state.mkdir(parents=True, exist_ok=True)
        env["PULUMI_BACKEND_URL"] = f"file://{state}"
    if not any(k in env for k in PASSPHRASE_VARS) and env["PULUMI_BACKEND_URL"].startswith(
        "file://"
    ):
        if not lab:
            raise NotAvailable(
                "a file backend seals secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE "
                "(or PULUMI_CONFIG_PASSPHRASE_FILE), or choose another secrets provider "
                "(README: Backends and secrets)"
            )
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(lab_passphrase(stack_file))
    return env


def pulumi(
    args: Sequence[str], env: dict[str, str], root: Path, *, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``pulumi ARGS`` in the project; output goes to ours unless captured."""
    return subprocess.run(
        [str(pulumi_cli()), *args],
        cwd=root,
        env=env,
        text=True,
        capture_output=capture,
        stdin=subprocess.DEVNULL,
    )


def select_stack(stack: str, env: dict[str, str], root: Path) -> None:
    """Select ``stack``, creating it (passphrase secrets on a file backend)."""
    args = ["stack", "select", "--create", "--stack", stack, "--non-interactive"]
    if env.get("PULUMI_BACKEND_URL", "").startswith("file://"):
        # a file backend has no secrets service of its own; other backends keep their
        # default (Pulumi Cloud's service), and `pulumi stack change-secrets-provider`
        # picks another (awskms://, hashivault://) for any stack
        args += ["--secrets-provider", "passphrase"]
    done = pulumi(args, env, root, capture=True)
    if done.returncode != 0:
        raise NotAvailable(f"cannot select stack {stack}: {done.stderr.strip() or done.stdout}")


OP_ARGS: dict[Operation, tuple[str, ...]] = {
    "up": ("up", "--yes", "--skip-preview"),
    "preview": ("preview", "--diff"),
    "refresh": ("refresh", "--yes", "--skip-preview"),
    "destroy": ("destroy", "--yes", "--skip-preview"),
}


MISSING_PLUGIN = re.compile(
    r"no resource plugin 'pulumi-resource-([\w-]+)' found in the workspace at version v?([\w.-]+)"
)


def missing_plugin_hint(output: str) -> list[str]:
    """One line per provider plugin the engine could not find: which, and how a real site
    installs it (this machine builds only the CLI and the Kubernetes provider)."""
    hints = []
    for name, version in sorted(set(MISSING_PLUGIN.findall(output))):
        hints.append(
            f"the Pulumi provider plugin {name} {version} is not installed (it cannot be built "
            f"here); a site with network access installs it with `pulumi plugin install "
            f"resource {name} {version}`"
        )
    return hints


def stream(args: Sequence[str], env: dict[str, str], root: Path) -> tuple[int, str]:
    """Run ``pulumi ARGS`` with its output passed through live, line by line; also return
    the output, to explain what went wrong afterwards."""
    proc = subprocess.Popen(
        [str(pulumi_cli()), *args],
        cwd=root,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        seen.append(line)
    return proc.wait(), "".join(seen)


def run(
    op: Operation,
    stack: str,
    root: Path,
    site: SiteSpec,
    stack_file: Path,
    extra: Sequence[str] = (),
) -> int:
    """Run ``op`` on ``stack``; Pulumi's output streams live. Returns its exit status."""
    env = engine_env(root, site, stack_file)
    select_stack(stack, env, root)
    _recover(op, stack, env, root)
    args = [*OP_ARGS[op], "--stack", stack, "--non-interactive", *extra]
    code, output = stream(args, env, root)
    for hint in missing_plugin_hint(output):
        print(f"mlsite: {hint}", file=sys.stderr)
    return code


def _recover(op: Operation, stack: str, env: dict[str, str], root: Path) -> None:
    """Clear what an update cut short left behind (``mlsite.engine.recover``): a stale lock
    always; pending operations before the commands that change the stack."""
    from mlsite.engine.recover import Interrupted, recover

    def run_pulumi(args: list[str]) -> tuple[int, str, str]:
        done = pulumi(args, env, root, capture=True)
        return done.returncode, done.stdout, done.stderr

    backend = env.get("PULUMI_BACKEND_URL", "")
    try:
        recovered = recover(stack, backend, run_pulumi, pending_too=op != "preview")
    except Interrupted as exc:
        raise NotAvailable(str(exc)) from None
    for line in recovered.cleared:
        print(f"mlsite: an earlier update of {stack} was cut short; {line}", file=sys.stderr)

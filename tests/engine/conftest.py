"""The real Pulumi engine on a throwaway copy of the project.

``EngineProject`` copies the project's program and stack files into a temporary directory
and runs the ``pulumi`` that ``make setup`` built, with a file backend, a plugin home and
state of its own (nothing of the user's is read or written), no plugin downloads and no
update check. The stack files in the repository are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlsite.versions import pin

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLE_PASSPHRASES = {
    # The example stacks' published passphrases (tools/seal_example_secrets.py).
    "akiba": "akiba example passphrase (published; protects nothing)",
    "shiva": "shiva example passphrase (published; protects nothing)",
}


def pulumi_binary() -> Path:
    """The CLI ``make setup`` put beside the interpreter; fails (not skips) without it."""
    path = BIN / "pulumi"
    if not path.exists():
        pytest.fail("the Pulumi CLI is not in the virtualenv: run `make setup`")
    out = subprocess.run([str(path), "version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"v{pin('pulumi', 'cli')}", out.stdout
    return path


@dataclass
class EngineProject:
    """A copy of the project in ``root`` and the environment its engine runs with."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def copy(cls, where: Path, passphrase: str = "engine-test passphrase") -> EngineProject:
        root = where / "project"
        (root / "stacks").mkdir(parents=True)
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(ROOT / name, root / name)
        for path in (ROOT / "stacks").iterdir():
            if path.suffix in (".yaml", ".py", ".json"):
                shutil.copy(path, root / "stacks" / path.name)
        (where / "state").mkdir()
        env = dict(os.environ)
        env.update(
            PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
            PULUMI_HOME=str(where / "pulumi-home"),
            PULUMI_BACKEND_URL=f"file://{where / 'state'}",
            PULUMI_CONFIG_PASSPHRASE=passphrase,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_DIY_BACKEND_NO_LEGACY_WARNING="true",
            MLSITE_PROJECT=str(root),
        )
        return cls(root, env)

    def pulumi(
        self, *args: str, check: bool = True, timeout: float = 1800, netns: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``pulumi ARGS`` in the copy; ``netns`` runs it with no network but loopback."""
        command = [str(pulumi_binary()), *args]
        if netns:
            command = [
                "unshare",
                "--net",
                "sh",
                "-c",
                'ip link set lo up && exec "$@"',
                "sh",
                *command,
            ]
        proc = subprocess.run(
            command,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout[-6000:]}\nstderr: {proc.stderr[-4000:]}"
            )
        return proc

    def mlsite(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``mlsite`` command in the copy (with the same environment); not checked."""
        return subprocess.run(
            [str(BIN / "mlsite"), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
        )

    def stack(self, name: str) -> None:
        """Create (or select) stack ``name`` with passphrase secrets."""
        self.pulumi(
            "stack", "select", "--create", "--stack", name, "--secrets-provider", "passphrase"
        )

    def preview_json(self, stack: str) -> dict[str, Any]:
        out = self.pulumi("preview", "--stack", stack, "--json", "--non-interactive")
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc


@pytest.fixture
def engine_project(tmp_path: Path) -> Iterator[EngineProject]:
    pulumi_binary()
    yield EngineProject.copy(tmp_path)

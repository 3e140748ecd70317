"""The layering holds: the import contracts pass, and they fail on a planted violation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "mlsite", root / "mlsite", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_project_keeps_every_import_contract() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "mlsite/hosts/deploys/gpu/__init__.py",
            "from pyinfra.context import host  # planted",
            "The deploys' pure halves",
        ),
        (
            "mlsite/components/storage/nfs.py",
            "import pyinfra.operations  # planted",
            "Pulumi components never import pyinfra",
        ),
        ("mlsite/hosts/facts.py", "import mlsite.lab.paths  # planted", "The host layer never"),
        ("mlsite/spec/hosts.py", "import mlsite.hosts.params  # planted", "The site model"),
        ("mlsite/plan/diff.py", "import mlsite.cli  # planted", "No import cycles"),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    root = _copy(tmp_path)
    path = root / module
    path.write_text(path.read_text() + "\n" + line + "\n")
    proc = _lint(root)
    assert proc.returncode != 0, proc.stdout
    broken = proc.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, proc.stdout


def test_importing_every_component_loads_no_pyinfra_or_gevent() -> None:
    code = (
        "import sys\n"
        "from mlsite.components import (CephCluster, Hosts, NfsHa, PersonalDatabases,\n"
        "    Registry, RuntimeImage, Site)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyinfra', 'gevent'}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "mlsite.components.hosts.hosts" in imported  # the importtime trace is the real one
    assert not [m for m in imported if m.split(".")[0] in ("pyinfra", "gevent")]

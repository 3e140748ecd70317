"""`mlsite plan` runs the project's own program, as `pulumi up` would, and takes a stack file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MLSITE = Path(sys.executable).parent / "mlsite"

OWN_PROGRAM = """
from mlsite.components import Hosts, HostsArgs, site_from_config

Hosts("own", HostsArgs(site_from_config(), deploys={"base"}))
"""


def _project(tmp_path: Path, main: str | None = None) -> Path:
    root = tmp_path / "site"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "stacks" / "Pulumi.lab.yaml", root / "stacks" / "Pulumi.lab.yaml")
    project = "name: mysite\nruntime: python\nstackConfigDir: stacks\n"
    if main is not None:
        project += f"main: {main}\n"
    (root / "Pulumi.yaml").write_text(project)
    return root


def _plan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLSITE_PROJECT"}
    return subprocess.run(
        [str(MLSITE), "plan", *args, "--json", "-"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _names(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    return sorted(r["name"] for r in json.loads(proc.stdout)["resources"])


@pytest.mark.parametrize("main", [None, "program"])
def test_the_projects_own_program_is_planned(tmp_path: Path, main: str | None) -> None:
    root = _project(tmp_path, main)
    where = root / (main or ".")
    where.mkdir(exist_ok=True)
    (where / "__main__.py").write_text(OWN_PROGRAM)
    names = _names(_plan(root, "--stack", "lab"))
    # the host layer and its CA, not the whole site's 19 resources
    assert names == ["mysite-lab", "own", "own-base", "own-ca"]


def test_a_project_without_a_program_gets_the_whole_site(tmp_path: Path) -> None:
    names = _names(_plan(_project(tmp_path), "--stack", "lab"))
    assert "lab" in names and "lab-ceph-hosts" in names


def test_a_stack_file_path_plans_that_stack_from_anywhere(tmp_path: Path) -> None:
    by_file = _plan(tmp_path, str(ROOT / "stacks" / "Pulumi.burst.yaml"))
    by_name = _plan(ROOT, "--stack", "burst")
    assert _names(by_file) == _names(by_name)
    assert json.loads(by_file.stdout) == json.loads(by_name.stdout)


def test_a_file_that_is_not_a_stack_file_is_refused(tmp_path: Path) -> None:
    proc = _plan(tmp_path, str(ROOT / "Pulumi.yaml"))
    assert proc.returncode == 2
    assert "a stack file is named Pulumi.<stack>.yaml" in proc.stderr

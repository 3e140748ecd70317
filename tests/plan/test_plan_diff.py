"""`mlsite diff`: counts, changed fields, destructive changes flagged, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlsite.plan.diff import EXIT_DESTRUCTIVE, EXIT_OK, PlanFormatError, diff_plans, render_markdown
from mlsite.plan.run import plan_site_data
from mlsite.plan.synthetic import lab_site_data

ROOT = Path(__file__).resolve().parents[2]


def _plan(data: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(plan_site_data(data, "lab").doc()))
    return doc


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return _plan(lab_site_data())


def test_identical_plans_have_no_changes(base: dict[str, Any]) -> None:
    d = diff_plans(base, base)
    assert not d.changes and d.exit_code == EXIT_OK
    assert "No changes" in render_markdown(d)


def test_a_changed_parameter_is_an_update_naming_the_field(base: dict[str, Any]) -> None:
    data = lab_site_data()
    data["registry"]["port"] = 5443
    d = diff_plans(base, _plan(data))
    # the port reaches every part that uses the registry: the registry itself and every
    # host's containerd (the lab's runtime image is declared with build: false)
    assert sorted((c.kind, c.name) for c in d.changes) == [
        ("update", "lab-hosts-containerd"),
        ("update", "lab-registry-hosts"),
    ]
    containerd = next(c for c in d.changes if c.name == "lab-hosts-containerd")
    assert [f.path for f in containerd.fields] == ["params.registry_endpoint"]
    md = render_markdown(d)
    assert (
        '`params.registry_endpoint`: `"https://lab-3.lab.mlsite.test:5000"` → `"https://lab-3.lab.mlsite.test:5443"`'
        in md
    )
    assert "0 to add, 2 to change, 0 to replace, 0 to delete" in md
    assert d.exit_code == EXIT_OK


def _resource(name: str, role: str, protect: bool) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:s::mlsite::mlsite:hosts:Hosts$pulumi-python:dynamic/hosts:HostDeploy::{name}",
        "type": "pulumi-python:dynamic/hosts:HostDeploy",
        "name": name,
        "protect": protect,
        "data_bearing": protect,
        "inputs": {"role": role},
        "options": {},
    }


def test_deleting_a_protected_resource_is_flagged_first_with_exit_3() -> None:
    doc = {"format": 1, "stack": "s"}
    old = [_resource("s-hosts-ceph", "ceph", True), _resource("s-hosts-gpu", "gpu", False)]
    d = diff_plans({**doc, "resources": old}, {**doc, "resources": old[1:]})
    assert [(c.kind, c.name) for c in d.changes] == [("delete", "s-hosts-ceph")]
    assert d.exit_code == EXIT_DESTRUCTIVE
    md = render_markdown(d)
    assert md.index("[!CAUTION]") < md.index("### Delete")
    assert "s-hosts-ceph** (protected, data-bearing)" in md


def test_deleting_an_unprotected_resource_is_not_destructive() -> None:
    doc = {"format": 1, "stack": "s"}
    old = [_resource("s-hosts-gpu", "gpu", False)]
    d = diff_plans({**doc, "resources": old}, {**doc, "resources": []})
    assert d.exit_code == EXIT_OK and "CAUTION" not in render_markdown(d)


def test_adding_hosts_adds_to_groups_without_destroying(base: dict[str, Any]) -> None:
    data = lab_site_data()
    data["hosts"].append(
        {"name": "lab-4", "address": "10.77.0.14", "lab": True, "roles": ["k8s-worker"]}
    )
    d = diff_plans(base, _plan(data))
    assert "lab-hosts-base" in {c.name for c in d.of("update")}
    assert not d.of("delete") and not d.destructive


def test_role_change_is_a_replace() -> None:
    doc = {"format": 1, "stack": "s", "resources": []}
    r = _resource("n", "nfs", True)
    new = {**r, "inputs": {"role": "db"}}
    d = diff_plans({**doc, "resources": [r]}, {**doc, "resources": [new]})
    assert d.changes[0].kind == "replace" and d.exit_code == EXIT_DESTRUCTIVE


def test_refuses_files_that_are_not_plans() -> None:
    with pytest.raises(PlanFormatError):
        diff_plans({"format": 99, "resources": []}, {"format": 1, "resources": []})


def test_cli_diff_of_files_and_against_a_git_ref(tmp_path: Path, base: dict[str, Any]) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps(base))
    mlsite = [sys.executable, "-m", "mlsite.cli"]
    same = subprocess.run(
        [*mlsite, "diff", str(a), str(a)], capture_output=True, text=True, cwd=ROOT
    )
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith("## mlsite diff")
    ref = subprocess.run(
        [*mlsite, "diff", "--stack", "lab", "--base", "HEAD"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ref.returncode in (0, 3), ref.stderr
    assert ref.stdout.startswith("## mlsite diff — stack `lab`")
    worktrees = subprocess.run(
        ["git", "worktree", "list"], capture_output=True, text=True, cwd=ROOT
    )
    assert "mlsite-base-" not in worktrees.stdout

"""Plan documents: stable, secrets masked, canaries never printed."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest

from mlsite.plan.diff import diff_plans, render_markdown
from mlsite.plan.run import dumps, plan_site_data, plan_stack
from mlsite.plan.synthetic import lab_site_data
from mlsite.plan.tree import render_tree

CANARY = "canary-Zx81-do-not-print"


def _with_canaries(data: dict[str, Any]) -> dict[str, Any]:
    """The lab site as the engine hands it over: secure values decrypted to plain text."""
    data = copy.deepcopy(data)
    for i, user in enumerate(data["registry"]["users"]):
        user["password"] = f"{CANARY}-{i}"
    data["monitoring"]["grafana_admin_password"] = f"{CANARY}-grafana"
    return data


def test_plan_json_is_identical_across_runs() -> None:
    a, b = plan_stack("lab"), plan_stack("lab")
    assert dumps(a.doc()) == dumps(b.doc())


def test_plan_has_no_ids_pickles_or_timestamps() -> None:
    text = dumps(plan_stack("lab").doc())
    assert "__provider" not in text and '-id"' not in text


def test_canary_secrets_never_reach_plan_tree_diff_or_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSITE_LAB_REGISTRY_PUSH_PASSWORD", f"{CANARY}-env")
    caplog.set_level(logging.DEBUG)
    base = plan_site_data(lab_site_data(), "lab")
    head = plan_site_data(_with_canaries(lab_site_data()), "lab")
    texts = [
        dumps(base.doc(), base.known_secrets),
        dumps(head.doc(), head.known_secrets),
        render_tree(head.doc()),
        render_markdown(diff_plans(base.doc(), head.doc())),
        caplog.text,
    ]
    for text in texts:
        assert CANARY not in text
    containerd = next(r for r in head.doc()["resources"] if r["name"] == "lab-hosts-containerd")
    assert containerd["inputs"]["secrets"] == "[secret]"
    assert containerd["inputs"]["params"]["password"] == {"$secret": "value:password"}


def test_a_failing_stack_program_is_one_line_without_traceback(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    shutil.copy(root / "stacks" / "Pulumi.lab.yaml", tmp_path / "stacks" / "Pulumi.broken.yaml")
    (tmp_path / "stacks" / "broken.py").write_text("raise RuntimeError('no such part')\n")
    result = subprocess.run(
        [sys.executable, "-m", "mlsite.cli", "plan", "--stack", "broken"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "the program of stack broken failed: RuntimeError: no such part" in result.stderr
    assert "Traceback" not in result.stderr

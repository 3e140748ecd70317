"""An update cut short recovers: `pulumi up` killed (SIGKILL) while deploys run leaves a lock
and pending operations; mlsite clears what is safe and the next update converges."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mlsite.engine.recover import HOST_DEPLOY, Interrupted, recover, stale_locks
from tests.engine.conftest import EngineProject, pulumi_binary
from tests.engine.test_aliases import FAKE_RUNNER

PROGRAM = """
import pulumi
from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import HostGroup
from mlsite.spec import Host

H1, H2 = (
    Host.model_validate({{"name": n, "address": a, "roles": ["ceph-mon"]}})
    for n, a in (("h1", "10.0.0.1"), ("h2", "10.0.0.2"))
)
HostDeploy("x-base", HostDeployArgs(HostGroup("base", "base", (H1,)), {{"v": {v}}}))
if {v} > 1:  # another host: the two deploys run at once
    HostDeploy("x-ceph", HostDeployArgs(HostGroup("ceph", "ceph", (H2,)), {{"v": {v}}}))
"""


def _requests(state: Path) -> list[dict[str, Any]]:
    path = state / "requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _pulumi(project: EngineProject) -> Any:
    def run(args: list[str]) -> tuple[int, str, str]:
        done = project.pulumi(*args, check=False)
        return done.returncode, done.stdout, done.stderr

    return run


def test_an_up_killed_mid_deploy_is_recovered_and_the_next_up_converges(
    engine_project: EngineProject, tmp_path: Path
) -> None:
    project, state = engine_project, tmp_path / "runner"
    state.mkdir()
    project.env.update(MLSITE_HOST_RUNNER=FAKE_RUNNER, FAKE_RUNNER_STATE=str(state))
    project.stack("cut")
    program = project.root / "stacks" / "cut.py"
    program.write_text(PROGRAM.format(v=1))
    project.pulumi("up", "--yes", "--skip-preview", "--non-interactive", "--stack", "cut")

    # version 2 updates x-base and creates x-ceph; both deploys are slow, and the engine is
    # killed while both run
    program.write_text(PROGRAM.format(v=2))
    (state / "pause-s").write_text("6")
    up = subprocess.Popen(
        [
            str(pulumi_binary()),
            "up",
            "--yes",
            "--skip-preview",
            "--non-interactive",
            "--stack",
            "cut",
        ],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(_requests(state)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_requests(state)) == 3, "both deploys of version 2 should be running"
    up.kill()
    up.wait()
    exported = json.loads(project.pulumi("stack", "export", "--stack", "cut").stdout)
    left = {
        op["resource"]["urn"].rsplit("::", 1)[1]: op["type"]
        for op in exported["deployment"]["pending_operations"]
    }
    assert left == {"x-base": "updating", "x-ceph": "creating"}
    blocked = project.pulumi("up", "--yes", "--non-interactive", "--stack", "cut", check=False)
    assert blocked.returncode != 0 and "locked" in blocked.stderr  # what a user meets today

    (state / "pause-s").unlink()
    recovered = recover("cut", project.env["PULUMI_BACKEND_URL"], _pulumi(project))
    text = "\n".join(recovered.cleared)
    assert "removed the stack's lock" in text and "no longer runs" in text
    assert "x-base" in text and "x-ceph" in text and "runs its deploy again" in text

    again = project.pulumi("up", "--yes", "--skip-preview", "--non-interactive", "--stack", "cut")
    assert "pending operations" not in again.stdout + again.stderr
    after = json.loads(project.pulumi("stack", "export", "--stack", "cut").stdout)["deployment"]
    assert not after.get("pending_operations")
    applied = {
        r["urn"].rsplit("::", 1)[1]: r["outputs"]["params"]
        for r in after["resources"]
        if r["type"] == HOST_DEPLOY
    }
    assert applied == {"x-base": {"v": 2}, "x-ceph": {"v": 2}}
    # each deploy of version 2 ran again after the cut (each host's lock kept the killed
    # run's runner and the new one apart)
    v2 = [r["role"] for r in _requests(state) if r["params"] == {"v": 2}]
    assert sorted(v2) == ["base", "base", "ceph", "ceph"]
    # and the next update finds nothing to do
    quiet = project.pulumi("preview", "--json", "--non-interactive", "--stack", "cut")
    assert set(json.loads(quiet.stdout)["changeSummary"]) == {"same"}


def test_a_lock_of_a_running_process_or_another_machine_is_left(tmp_path: Path) -> None:
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "p" / "s"
    locks.mkdir(parents=True)
    mine = {"pid": os.getpid(), "hostname": socket.gethostname()}
    elsewhere = {"pid": 999999, "hostname": "another-machine"}
    gone = {"pid": 999999, "hostname": socket.gethostname()}
    for name, owner in (("mine", mine), ("elsewhere", elsewhere), ("gone", gone)):
        (locks / f"{name}.json").write_text(json.dumps(owner))
    assert [p.name for p, _ in stale_locks(f"file://{tmp_path}", "s")] == ["gone.json"]
    assert stale_locks("s3://bucket", "s") == []


def test_a_pending_create_of_another_type_stops_with_the_command_to_run() -> None:
    deployment = {
        "pending_operations": [
            {
                "type": "creating",
                "resource": {
                    "urn": "urn:pulumi:s::p::aws:ec2/vpc:Vpc::site-vpc",
                    "type": "aws:ec2/vpc:Vpc",
                },
            },
            {"type": "updating", "resource": {"urn": "urn:pulumi:s::p::x::b", "type": HOST_DEPLOY}},
        ]
    }
    calls: list[list[str]] = []

    def fake(args: list[str]) -> tuple[int, str, str]:
        calls.append(args)
        return 0, json.dumps({"version": 3, "deployment": deployment}), ""

    with pytest.raises(Interrupted) as info:
        recover("s", "file:///nonexistent", fake)
    assert "site-vpc" in str(info.value)
    assert "pulumi refresh --clear-pending-creates --stack s" in str(info.value)
    assert [c[:2] for c in calls] == [["stack", "export"]]  # nothing imported: nothing changed


def test_mlsite_clears_a_stale_lock_before_any_command_and_state_only_before_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlsite.engine import run as engine_run

    locks = tmp_path / ".pulumi" / "locks" / "organization" / "p" / "s"
    locks.mkdir(parents=True)
    lock = locks / "l.json"
    calls: list[list[str]] = []

    def fake_pulumi(args: list[str], *_: Any, **__: Any) -> subprocess.CompletedProcess[str]:
        calls.append(list(args))
        return subprocess.CompletedProcess(args, 1, "", "no stack")

    monkeypatch.setattr(engine_run, "pulumi", fake_pulumi)
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    for op in ("preview", "up"):
        lock.write_text(json.dumps({"pid": 999999, "hostname": socket.gethostname()}))
        engine_run._recover(op, "s", env, tmp_path)
        assert not lock.exists()
        assert "cut short" in capsys.readouterr().err or op == "preview"
    assert calls == [["stack", "export", "--stack", "s"]]  # the state is read only for `up`

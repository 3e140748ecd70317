"""Personal databases on the lab: a >= 1 GB golden Postgres copied for a user in seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.storage.conftest import CephOnLab
from tests.storage.labrun import apply_role, changed, errors

pytestmark = pytest.mark.lab

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from benchmarks.personal_db import GOLDEN_PORT, MIN_BYTES, fill_golden, psql, schema  # noqa: E402


def mlsite_db(ceph: CephOnLab, *args: str) -> tuple[int, dict[str, object]]:
    """Run `mlsite db ARGS --stack lab` as a user would; exit status and JSON answer."""
    env = {**os.environ, "MLSITE_SSH_KEY": str(ceph.lab.ssh_key)}
    proc = subprocess.run(
        [sys.executable, "-m", "mlsite.cli", "db", *args, "--stack", "lab"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout or "{}")


@pytest.fixture(scope="module")
def golden(ceph_lab: CephOnLab) -> CephOnLab:
    result = apply_role(ceph_lab.lab, "personal_db")
    assert result["ok"], errors(result)
    size = fill_golden(lambda cmd: ceph_lab.lab.run("lab-1", cmd, timeout=900).stdout)
    assert size >= MIN_BYTES
    return ceph_lab


def test_second_apply_changes_nothing(golden: CephOnLab) -> None:
    result = apply_role(golden.lab, "personal_db")
    assert result["ok"], errors(result)
    assert changed(result) == 0, result["hosts"]


def test_clone_is_started_and_queried_within_seconds(golden: CephOnLab) -> None:
    lab = golden.lab
    status, answer = mlsite_db(golden, "clone", "alice")
    assert status == 0, answer
    print(f"clone: {answer}")
    # the tool answers once the copy has answered a query (timings: benchmarks/personal_db.py)
    assert "select_1_s" in answer["steps"]  # type: ignore[operator]
    port = int(answer["port"])  # type: ignore[call-overload]
    assert port > GOLDEN_PORT
    golden_rows = lab.run(
        "lab-1", psql(GOLDEN_PORT, "select count(*) from pgbench_accounts")
    ).stdout
    copy_rows = lab.run("lab-1", psql(port, "select count(*) from pgbench_accounts")).stdout
    assert copy_rows == golden_rows
    # indexes and constraints came along with the data
    run = lambda cmd: lab.run("lab-1", cmd).stdout  # noqa: E731
    assert "pgbench_accounts_bid" in schema(run, GOLDEN_PORT, "bench")
    assert schema(run, port, "bench") == schema(run, GOLDEN_PORT, "bench")
    # the copy is the user's own: a change there leaves the golden copy alone
    lab.run("lab-1", psql(port, "delete from pgbench_accounts where aid <= 10"))
    after = lab.run("lab-1", psql(GOLDEN_PORT, "select count(*) from pgbench_accounts")).stdout
    assert after == golden_rows
    status, listed = mlsite_db(golden, "list")
    assert status == 0 and "alice" in listed["copies"]  # type: ignore[operator]
    status, _ = mlsite_db(golden, "drop", "alice")
    assert status == 0
    assert "alice" not in lab.run("lab-1", "rbd ls rbd").stdout.split()


def test_refuses_a_user_not_allowed(golden: CephOnLab) -> None:
    status, answer = mlsite_db(golden, "clone", "mallory")
    assert status == 1 and "may not have a copy" in str(answer["error"])


def test_expired_copy_is_dropped_on_list(golden: CephOnLab) -> None:
    lab = golden.lab
    assert mlsite_db(golden, "clone", "alice")[0] == 0
    registry = "/var/lib/mlsite-db/analytics/clones.json"
    lab.run(
        "lab-1",
        f"python3 -c \"import json; p='{registry}'; d=json.load(open(p)); "
        "d['alice']['expires']=0; json.dump(d, open(p, 'w'))\"",
    )
    status, listed = mlsite_db(golden, "list")
    assert status == 0, listed
    assert listed["expired"] == ["alice"] and listed["copies"] == {}
    assert (
        lab.run(
            "lab-1", "systemctl is-active mlsite-db@analytics-alice", check=False
        ).stdout.strip()
        != "active"
    )
    assert (
        lab.run("lab-1", "systemctl is-enabled mlsite-db-expire@analytics.timer").stdout.strip()
        == "enabled"
    )

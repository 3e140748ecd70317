"""NFS HA drill on two lab hosts: crash the active node, the survivor fences it and serves.

Named to run last among the storage lab tests: it powers a lab host off (and on again).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.conftest import CephOnLab
from tests.storage.labrun import apply_role, changed, errors

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.nfs_failover import LAST_ERROR, RESULTS, UID, drill, nfs_get, nfs_put, write
from mlsite.hosts.deploys.nfs_ha import MOUNT

pytestmark = pytest.mark.lab
IP = "10.77.0.100"
WRITTEN: dict[str, str] = {}
"""Name of the file the fixture wrote through the floating IP."""


@pytest.fixture(scope="module")
def nfs(ceph_lab: CephOnLab) -> Iterator[CephOnLab]:
    lab = ceph_lab.lab
    started = time.monotonic()
    result = apply_role(lab, "nfs_ha")
    assert result["ok"], errors(result)
    deadline = time.monotonic() + 180
    active = None
    while active is None and time.monotonic() < deadline:
        located = lab.run("lab-2", "crm_resource --locate --resource home-ip", check=False)
        found = re.search(r"running on: (\S+)", located.stdout)
        mounted = found and lab.run(found.group(1), f"mountpoint -q {MOUNT}", check=False)
        if found and mounted and mounted.returncode == 0:
            active = found.group(1)
        else:
            time.sleep(1)
    assert active, "the export is not served 180 s after the apply"
    # made before any client looks: nfs-ganesha caches directory contents it has listed
    lab.run(active, f"install -d -o {UID} -g {UID} {MOUNT}/alice")
    # Refused while the new server is in its grace period. An attempt that failed after
    # creating the file leaves it behind (nfs-cp creates exclusively), so each try gets a
    # fresh name.
    attempt = 0
    while not nfs_put(IP, name := f"hello-{int(time.time())}-{attempt}.txt", b"hello"):
        assert time.monotonic() < deadline, f"cannot write through the floating IP: {LAST_ERROR}"
        attempt += 1
        time.sleep(1)
    WRITTEN["hello"] = name
    print(f"nfs_ha: served after {time.monotonic() - started:.1f} s")
    yield ceph_lab


def test_cib_is_verified_and_second_apply_changes_nothing(nfs: CephOnLab) -> None:
    nfs.lab.run("lab-1", "crm_verify --live-check")
    result = apply_role(nfs.lab, "nfs_ha")
    assert result["ok"], errors(result)
    which = {
        name: [o["name"] for o in h.get("operations", []) if o.get("changed")]
        for name, h in result["hosts"].items()
    }
    assert changed(result) == 0, which
    assert nfs_get(IP, WRITTEN["hello"]) == b"hello"


def test_crash_of_the_active_node_is_fenced_and_served_again(
    nfs: CephOnLab, tmp_path: Path
) -> None:
    lab = nfs.lab
    try:
        result = drill(lab, IP)
    finally:
        lab.restore()
    write(result, tmp_path)  # the report renders; benchmarks/nfs_failover.py records it
    if os.environ.get("MLSITE_RECORD_DRILL"):  # record this run as the benchmark's result
        write(result, RESULTS)
    assert (tmp_path / "nfs_failover.md").read_text().count("acknowledged writes lost") == 1
    print(result)
    assert result["before_crash_file_intact"]
    assert result["acknowledged_lost"] == []
    assert result["acknowledged_writes"] > 0
    assert result["fenced"], result["fence_history"]
    assert result["survivor"] in result["ip_now"]
    assert result["failover_s"] < 120

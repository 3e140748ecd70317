"""Lab loop devices: teardown releases the lab's own (host disks, and rbd-fuse files a lab host
attached inside itself, which outlive the host) and never any other loop device."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlsite.lab import disks
from mlsite.storage.rbd_device import FUSE_ROOT, LOOP_RECORDS

pytestmark = pytest.mark.lab

IN_HOST = f"{FUSE_ROOT}/rbd/home/home"
ATTACH = (
    f"mount -t tmpfs none /run && mkdir -p {os.path.dirname(IN_HOST)} && "
    f"truncate -s 16M {IN_HOST} && losetup --find --show {IN_HOST}"
)


def attach_in_gone_namespace() -> str:
    """What a crashed lab host leaves: a loop device over a file that mlsite-rbd-dev attached
    under /run/mlsite-rbd in a mount namespace that no longer exists."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", ATTACH],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def record(state: Path, host: str, device: str) -> None:
    """The record mlsite-rbd-dev leaves in the host's writable layer."""
    records = state / "hosts" / host / "upper" / LOOP_RECORDS.lstrip("/")
    records.mkdir(parents=True, exist_ok=True)
    (records / Path(device).name).write_text(IN_HOST + "\n")


@pytest.fixture
def loops(tmp_path: Path) -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("loop devices need root")
    state = tmp_path / "state"
    disk = state / "hosts" / "lab-1" / "disks" / "osd.img"
    disks.create_image(disk, 1)
    other = tmp_path / "elsewhere.img"
    disks.create_image(other, 1)
    made = {
        "state": str(state),
        "disk": disks.attach(disk),
        "rbd": attach_in_gone_namespace(),
        "other": disks.attach(other),
        "foreign_rbd": attach_in_gone_namespace(),
    }
    record(state, "lab-1", made["rbd"])
    try:
        yield made
    finally:
        for key in ("disk", "rbd", "other", "foreign_rbd"):
            if made[key] in disks.attached():
                subprocess.run(["losetup", "--detach", made[key]], check=False)


def test_teardown_detaches_host_disks_and_rbd_loops_left_by_gone_hosts(
    loops: dict[str, str],
) -> None:
    state = Path(loops["state"])
    # this machine no longer sees the in-host path of a gone host's file, only its tail
    seen = disks.attached()[loops["rbd"]]
    assert seen != IN_HOST and IN_HOST.endswith(seen)
    assert set(disks.lab_loops(state)) == {loops["disk"], loops["rbd"]}
    released = disks.detach_lab_loops(state)
    assert sorted(released) == sorted([loops["disk"], loops["rbd"]])
    left = disks.attached()
    assert loops["disk"] not in left and loops["rbd"] not in left
    assert loops["other"] in left  # never another loop device,
    assert loops["foreign_rbd"] in left  # not even one another lab's host recorded
    assert not list(state.glob(f"hosts/*/upper{LOOP_RECORDS}/*"))


def test_a_record_of_a_reused_device_releases_nothing(loops: dict[str, str]) -> None:
    state = Path(loops["state"])
    record(state, "lab-2", loops["other"])  # stale: the device now backs another file
    assert loops["other"] not in disks.lab_loops(state)

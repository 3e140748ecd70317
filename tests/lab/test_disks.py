"""Lab loop devices: teardown releases the lab's own (host disks, and rbd-fuse files a lab host
attached inside itself, which outlive the host) and never any other loop device."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlsite.lab import disks
from mlsite.storage.rbd_device import FUSE_ROOT

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


def attach_in_running_namespace() -> tuple[subprocess.Popen[str], str]:
    """The same, in a mount namespace still alive (a running host of a lab)."""
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", f"{ATTACH} && sleep 60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


@pytest.fixture
def loops(tmp_path: Path) -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("loop devices need root")
    state = tmp_path / "state"
    disk = state / "hosts" / "lab-1" / "disks" / "osd.img"
    disks.create_image(disk, 1)
    other = tmp_path / "elsewhere.img"
    disks.create_image(other, 1)
    running, live = attach_in_running_namespace()
    made = {
        "state": str(state),
        "disk": disks.attach(disk),
        "rbd": attach_in_gone_namespace(),
        "other": disks.attach(other),
        "live": live,
    }
    try:
        yield made
    finally:
        running.kill()
        running.wait()
        for key in ("disk", "rbd", "other", "live"):
            if made[key] in disks.attached():
                subprocess.run(["losetup", "--detach", made[key]], check=False)


def test_teardown_detaches_host_disks_and_rbd_loops_left_by_gone_hosts(
    loops: dict[str, str],
) -> None:
    # this machine no longer sees the rbd file's path: only the name it was attached with
    assert not disks.attached()[loops["rbd"]].startswith(FUSE_ROOT)
    assert disks.attached_as(loops["rbd"]) == IN_HOST
    found = disks.lab_loops(Path(loops["state"]))
    assert set(found) == {loops["disk"], loops["rbd"]}
    released = disks.detach_lab_loops(Path(loops["state"]))
    assert sorted(released) == sorted([loops["disk"], loops["rbd"]])
    left = disks.attached()
    assert loops["disk"] not in left and loops["rbd"] not in left
    assert loops["other"] in left  # never another loop device
    assert loops["live"] in left  # nor one a running host still uses

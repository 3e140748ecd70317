"""Lab disks: sparse files behind loop devices (this machine has only eight: release them).

Loop devices belong to the machine, not to a lab host: one a lab host attaches (mlsite's
``mlsite-rbd-dev`` puts an rbd-fuse file behind a loop device, as lab hosts have no kernel RBD
client) outlives the host after a crash or ``lab down``. Teardown releases those too.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from mlsite.lab.errors import LabError
from mlsite.lab.tools import run
from mlsite.storage.rbd_device import LOOP_RECORDS

GIB = 1024**3


def create_image(path: Path, size_gib: int) -> None:
    """Create a sparse disk image (no space used until written); keep an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with open(path, "wb") as image:
            image.truncate(size_gib * GIB)


def attached() -> dict[str, str]:
    """Every attached loop device of this machine: device -> backing file."""
    out = run(
        ["losetup", "--list", "--json", "--output", "NAME,BACK-FILE"], check=False
    ).stdout.strip()
    if not out:
        return {}
    return {
        str(d["name"]): str(d.get("back-file") or "").removesuffix(" (deleted)")
        for d in json.loads(out).get("loopdevices", [])
    }


def host_records(hosts_dir: Path) -> dict[str, str]:
    """Loop devices lab hosts attached themselves, from their records (``LOOP_RECORDS`` in
    each host's writable layer, which outlives the host): device -> in-host backing file."""
    records = {}
    for record in sorted(hosts_dir.glob(f"*/upper{LOOP_RECORDS}/loop*")):
        with contextlib.suppress(OSError):  # removed meanwhile: nothing to release
            records[f"/dev/{record.name}"] = record.read_text().strip()
    return records


def lab_loops(directory: Path) -> dict[str, str]:
    """Loop devices of the lab: device -> backing file.

    A backing file under ``directory`` (the lab's state dir: host disks), or one a lab host
    of this lab recorded attaching (mlsite-rbd-dev over an rbd-fuse file) and still over
    that file: its in-host path while the host runs; once the host is gone, this machine
    sees only the part below the file's mount (``/<image>`` for rbd-fuse). No
    other loop device is ever listed (not even one over another lab's rbd-fuse file)."""
    records = host_records(directory / "hosts")
    found = {}
    for device, backing in attached().items():
        inside = records.get(device, "")
        if backing.startswith(f"{directory}/"):
            found[device] = backing
        elif inside and backing and inside.endswith(backing):
            found[device] = inside
    return found


def attach(image: Path) -> str:
    """The loop device over `image`, attaching a free one if it is not attached yet."""
    for device, backing in attached().items():
        if backing == str(image):
            return device
    proc = run(["losetup", "--find", "--show", str(image)], check=False)
    if proc.returncode != 0:
        in_use = len(attached())
        raise LabError(
            f"cannot attach a loop device for {image.name} ({in_use} loop devices in use on this "
            f"machine): {proc.stderr.strip()}; give lab hosts fewer disks or run `mlsite lab down`"
        )
    return proc.stdout.strip()


def detach_lab_loops(directory: Path) -> list[str]:
    """Detach every loop device of the lab (see ``lab_loops``) and forget the records. One
    still in use (a mount left in a dying host) is detached by the kernel when its last
    user goes."""
    released = []
    for device in lab_loops(directory):
        run(["losetup", "--detach", device], check=False)
        released.append(device)
    for record in directory.glob(f"hosts/*/upper{LOOP_RECORDS}/loop*"):
        record.unlink(missing_ok=True)
    return released

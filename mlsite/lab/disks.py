"""Lab disks: sparse files behind loop devices (this machine has only eight: release them).

Loop devices belong to the machine, not to a lab host: one a lab host attaches (mlsite's
``mlsite-rbd-dev`` puts an rbd-fuse file behind a loop device, as lab hosts have no kernel RBD
client) outlives the host after a crash or ``lab down``. Teardown releases those too.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from mlsite.lab.errors import LabError
from mlsite.lab.tools import run
from mlsite.storage.rbd_device import FUSE_ROOT

GIB = 1024**3
LOOP_GET_STATUS64 = 0x4C05
"""ioctl returning ``struct loop_info64`` (232 bytes; ``lo_file_name[64]`` at offset 56)."""
_INFO_SIZE, _NAME_AT, _NAME_LEN = 232, 56, 64
HOST_PREFIXES = (FUSE_ROOT + "/",)
"""Paths, as seen inside a lab host, of the files mlsite's own tools put behind loop devices."""


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


def attached_as(device: str) -> str:
    """The file name ``device`` was attached with (``lo_file_name``, at most 63 characters),
    as the attaching process named it ("" when unreadable).

    The backing file ``losetup`` shows is resolved from this machine's view: for a file a lab
    host attached inside its own mounts it reads ``/<file>`` once the host is gone. The name
    given at attach time does not change."""
    try:
        fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        info = fcntl.ioctl(fd, LOOP_GET_STATUS64, bytes(_INFO_SIZE))
    except OSError:  # detached meanwhile (ENXIO): nothing to name
        return ""
    finally:
        os.close(fd)
    return info[_NAME_AT : _NAME_AT + _NAME_LEN].split(b"\0", 1)[0].decode(errors="replace")


def lab_loops(directory: Path) -> dict[str, str]:
    """Loop devices of the lab: device -> backing file.

    A backing file under ``directory`` (the lab's state dir: host disks), or a file mlsite's
    tools attached inside a lab host (``HOST_PREFIXES``) whose host is gone: this machine
    then sees the file as ``/<file>``, while a running host's shows its in-host path. So a
    running host's is left alone (teardown stops the lab's hosts before it detaches); no
    other loop device is ever listed."""
    found = {}
    for device, backing in attached().items():
        name = attached_as(device)
        if backing.startswith(f"{directory}/") or name.startswith(f"{directory}/"):
            found[device] = backing or name
        elif name.startswith(HOST_PREFIXES) and not backing.startswith(HOST_PREFIXES):
            found[device] = name
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
    """Detach every loop device of the lab (see ``lab_loops``). One still in use (a mount
    left in a dying host) is detached by the kernel when its last user goes."""
    released = []
    for device in lab_loops(directory):
        run(["losetup", "--detach", device], check=False)
        released.append(device)
    return released

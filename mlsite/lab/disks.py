"""Lab disks: sparse files behind loop devices (this machine has only eight: release them)."""

from __future__ import annotations

import json
from pathlib import Path

from mlsite.lab.errors import LabError
from mlsite.lab.tools import run

GIB = 1024**3


def create_image(path: Path, size_gib: int) -> None:
    """Create a sparse disk image (no space used until written); keep an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with open(path, "wb") as image:
            image.truncate(size_gib * GIB)


def attached() -> dict[str, str]:
    """Every attached loop device of this machine: device -> backing file."""
    out = run(["losetup", "--list", "--json", "--output", "NAME,BACK-FILE"], check=False).stdout.strip()
    if not out:
        return {}
    return {
        str(d["name"]): str(d.get("back-file") or "").removesuffix(" (deleted)")
        for d in json.loads(out).get("loopdevices", [])
    }


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


def detach_under(directory: Path) -> list[str]:
    """Detach every loop device whose backing file lies under `directory`."""
    released = []
    for device, backing in attached().items():
        if backing.startswith(str(directory) + "/"):
            run(["losetup", "--detach", device], check=False)
            released.append(device)
    return released

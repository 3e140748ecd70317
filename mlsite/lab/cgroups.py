"""One cgroup per lab host, made before the host starts (PID 1 here is not systemd)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP = "mlsite-lab"


def hierarchies(root: Path = CGROUP_ROOT) -> list[Path]:
    """The hierarchies systemd inside a host looks at: name=systemd and unified (or pure v2)."""
    if (root / "cgroup.controllers").exists():
        return [root]
    return [
        root / name for name in ("systemd", "unified") if (root / name / "cgroup.procs").exists()
    ]


def host_cgroups(name: str) -> list[Path]:
    """The cgroup directories of lab host `name` (one per hierarchy)."""
    return [h / GROUP / name for h in hierarchies()]


def create(name: str) -> list[Path]:
    """Create the host's cgroups (fresh: anything left in them is killed first)."""
    groups = host_cgroups(name)
    for group in groups:
        if group.exists():
            remove(group)
        group.mkdir(parents=True, exist_ok=True)
    return groups


def pids(group: Path) -> set[int]:
    """Every process in a cgroup and its descendants."""
    found: set[int] = set()
    if not group.is_dir():
        return found
    for procs in group.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            found |= {int(p) for p in procs.read_text().split()}
    return found


def remove(group: Path, timeout_s: float = 10) -> None:
    """Kill whatever still runs in a cgroup, then remove it and its children, deepest first."""
    deadline = time.monotonic() + timeout_s
    while (left := pids(group)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    if not group.is_dir():
        return
    for path in sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            path.rmdir()
    with contextlib.suppress(OSError):
        group.rmdir()


def remove_all() -> None:
    """Remove every lab cgroup (including the shared parent)."""
    for hierarchy in hierarchies():
        parent = hierarchy / GROUP
        if parent.is_dir():
            for child in parent.iterdir():
                if child.is_dir():
                    remove(child)
            with contextlib.suppress(OSError):
                parent.rmdir()

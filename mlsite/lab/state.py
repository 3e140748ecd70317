"""The lab's record of itself: the plan it runs and every kernel object it created.

Each resource is written to disk *before* the command that creates it runs, so `lab down`
can remove it even when the lab command died halfway.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlsite.lab.errors import LabError
from mlsite.lab.paths import LabDirs
from mlsite.lab.plan import DEFAULT_DEBIAN, LabDisk, LabHost, LabPlan

ResourceKind = Literal["netns", "link", "mount", "loop", "process", "cgroup", "nft"]


@dataclass(frozen=True)
class Resource:
    """One thing the lab created on this machine."""

    kind: ResourceKind
    name: str
    """netns/link/nft table name, mount point, loop backing file, process role, cgroup path."""
    detail: str = ""
    """Extra identity: the loop device, the process id."""


@dataclass
class LabState:
    """The lab's state file, loaded."""

    plan: LabPlan | None = None
    resources: list[Resource] = field(default_factory=list)
    cut: set[str] = field(default_factory=set)
    partitions: set[tuple[str, str]] = field(default_factory=set)
    loops: dict[str, str] = field(default_factory=dict)
    """Disk image file -> loop device."""
    fence_port: int = 0

    def add(self, resource: Resource) -> None:
        """Remember a resource (once)."""
        if resource not in self.resources:
            self.resources.append(resource)

    def drop(self, resource: Resource) -> None:
        """Forget a resource that is gone."""
        if resource in self.resources:
            self.resources.remove(resource)

    def find(self, kind: ResourceKind, name: str) -> Resource | None:
        """The recorded resource of this kind and name, if any."""
        return next((r for r in self.resources if r.kind == kind and r.name == name), None)


def _plan_to_json(plan: LabPlan) -> dict[str, Any]:
    return {
        "site": plan.site,
        "debian": plan.debian,
        "network": str(plan.network),
        "gateway": str(plan.gateway),
        "hosts": [
            {
                "name": h.name,
                "address": str(h.address),
                "ssh_user": h.ssh_user,
                "ssh_port": h.ssh_port,
                "disks": [asdict(d) for d in h.disks],
            }
            for h in plan.hosts
        ],
    }


def _plan_from_json(data: dict[str, Any]) -> LabPlan:
    return LabPlan(
        site=data["site"],
        debian=data.get("debian", DEFAULT_DEBIAN),
        network=ipaddress.IPv4Network(data["network"]),
        gateway=ipaddress.IPv4Address(data["gateway"]),
        hosts=tuple(
            LabHost(
                name=h["name"],
                address=ipaddress.IPv4Address(h["address"]),
                ssh_user=h["ssh_user"],
                ssh_port=h["ssh_port"],
                disks=tuple(LabDisk(**d) for d in h["disks"]),
            )
            for h in data["hosts"]
        ),
    )


def load_state(dirs: LabDirs) -> LabState:
    """The state file, or an empty state when the lab has never been up."""
    try:
        data = json.loads(dirs.state_file.read_text())
    except FileNotFoundError:
        return LabState()
    except (OSError, ValueError) as exc:
        raise LabError(f"lab state file {dirs.state_file} is unreadable: {exc}") from exc
    return LabState(
        plan=_plan_from_json(data["plan"]) if data.get("plan") else None,
        resources=[Resource(**r) for r in data.get("resources", [])],
        cut=set(data.get("cut", [])),
        partitions={(a, b) for a, b in data.get("partitions", [])},
        loops=dict(data.get("loops", {})),
        fence_port=int(data.get("fence_port", 0)),
    )


def save_state(dirs: LabDirs, state: LabState) -> None:
    """Write the state file atomically."""
    data = {
        "plan": _plan_to_json(state.plan) if state.plan else None,
        "resources": [asdict(r) for r in state.resources],
        "cut": sorted(state.cut),
        "partitions": sorted(state.partitions),
        "loops": state.loops,
        "fence_port": state.fence_port,
    }
    dirs.state.mkdir(parents=True, exist_ok=True)
    tmp = dirs.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, dirs.state_file)


class StateBook:
    """A loaded state that saves itself on every change (used while building the lab)."""

    def __init__(self, dirs: LabDirs) -> None:
        self.dirs = dirs
        self.state = load_state(dirs)

    def record(self, resource: Resource) -> None:
        """Remember a resource and save at once, before it is created."""
        self.state.add(resource)
        self.save()

    def forget(self, resource: Resource) -> None:
        """Forget a removed resource and save."""
        self.state.drop(resource)
        self.save()

    def save(self) -> None:
        """Write the state file."""
        save_state(self.dirs, self.state)


MACHINE_LOCK = Path("/run/lock/mlsite-lab.lock")
"""Lab names (`mls-*`) and addresses are per machine: changing commands of every lab take turns."""


@contextlib.contextmanager
def locked(dirs: LabDirs) -> Iterator[StateBook]:
    """Hold the machine's and this lab's locks (one changing command at a time); yield the state."""
    dirs.state.mkdir(parents=True, exist_ok=True)
    MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(MACHINE_LOCK, "a") as machine, open(dirs.lock_file, "a") as lock:
        fcntl.flock(machine, fcntl.LOCK_EX)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield StateBook(dirs)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(machine, fcntl.LOCK_UN)

"""Disks by stable id: refuse any disk holding data unless the site allows wiping it, and
prepare Ceph OSD disks (wipe signatures of a wipe-allowed disk; OSDs are created later by
the Ceph deploy). A disk that already carries a BlueStore label is an OSD: it is left to the
Ceph deploy, so re-applying the disks role never destroys an OSD.

Every disk is probed (``wipefs --no-act``, partitions in /sys) before anything changes; one
refused disk stops the host with a clear error and nothing changed on it.
"""

from __future__ import annotations

from typing import Literal

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import server

from mlsite.hosts.deploys.common import host_entry
from mlsite.hosts.facts import DiskContents, DiskProbe
from mlsite.hosts.params import RoleParams
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, SiteSpec


class DiskConf(RoleParams):
    """A disk of a host."""

    id: str
    """Stable path (/dev/disk/by-id/...)."""
    use: Literal["os", "ceph-osd", "none"]
    wipe: Literal["never", "allowed"] = "never"


class Params(RoleParams):
    """Parameters of the disks role on a group of hosts."""

    hosts: dict[str, tuple[DiskConf, ...]]
    """Each host's disks, by host name; only ``ceph-osd`` disks are touched."""


class DiskRefused(RuntimeError):
    """A disk holds data and the site does not allow wiping it (nothing was changed)."""


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The disks parameters of ``hosts`` (pure)."""
    return Params(
        hosts={
            h.name: tuple(DiskConf(id=d.id, use=d.use, wipe=d.wipe) for d in h.disks) for h in hosts
        }
    )


def check(disk: DiskConf, contents: DiskContents) -> str | None:
    """Why ``disk`` must not be touched, or None when it may be prepared."""
    if contents.device is None:
        return f"{disk.id}: no such block device"
    if contents.empty or contents.ceph_osd or disk.wipe == "allowed":
        return None  # an OSD disk is the Ceph deploy's from now on: never refused, never wiped
    held = ", ".join([*contents.signatures, *(f"partition {p}" for p in contents.partitions)])
    return (
        f"{disk.id} ({contents.device}) holds data ({held}) and its `wipe` is `never`; "
        "nothing was changed. Set `wipe: allowed` on this disk in the site description "
        "to let mlsite destroy it, or pick another disk"
    )


@deploy("disks")
def disks(params: Params) -> None:
    """Check, then prepare, the current host's OSD disks."""
    osds = [d for d in host_entry(params.hosts, host.name, "disks") if d.use == "ceph-osd"]
    probed = [(d, host.get_fact(DiskProbe, path=d.id)) for d in osds]
    problems = [p for d, c in probed if (p := check(d, c)) is not None]
    if problems:
        raise DiskRefused(f"{host.name}: " + "; ".join(problems))
    for disk, contents in probed:
        if contents.empty or contents.ceph_osd:
            continue  # `wipe: allowed` clears foreign data once; it never wipes a Ceph OSD
        parts = [f"/dev/{p}" for p in contents.partitions]
        server.shell(
            name=f"Wipe {disk.id} for a Ceph OSD (wipe: allowed)",
            commands=[
                *(f"wipefs --all --force {p}" for p in parts),
                f"wipefs --all --force {contents.device}",
                f"dd if=/dev/zero of={contents.device} bs=1M count=10 conv=fsync status=none",
            ],
        )


ROLE = RoleDeploy(
    name="disks", deploy=disks, params_model=Params, params_for=params_for, batch_facts=True
)

# Run as a deploy file: pyinfra hosts/inventory.py hosts/deploys/disks.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("disks")

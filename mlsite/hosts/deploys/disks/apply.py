"""The pyinfra half of the ``disks`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.disks``.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import server

from mlsite.hosts.common import host_entry
from mlsite.hosts.deploys.disks import DiskConf, DiskRefused, Params
from mlsite.hosts.facts import DiskContents, DiskProbe


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


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/disks/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.disks import DEPLOY

    run_deploy_file(DEPLOY)

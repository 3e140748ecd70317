"""Disks by stable id: refuse any disk holding data unless the site allows wiping it, and
prepare Ceph OSD disks (wipe signatures of a wipe-allowed disk; OSDs are created later by
the Ceph deploy). A disk that already carries a BlueStore label is an OSD: it is left to the
Ceph deploy, so re-applying the disks role never destroys an OSD.

Every disk is probed (``wipefs --no-act``, partitions in /sys) before anything changes; one
refused disk stops the host with a clear error and nothing changed on it.
"""

from __future__ import annotations

from typing import Literal

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, SiteSpec


class DiskConf(DeployParams):
    """A disk of a host."""

    id: str
    """Stable path (/dev/disk/by-id/...)."""
    use: Literal["os", "ceph-osd", "none"]
    wipe: Literal["never", "allowed"] = "never"


class Params(DeployParams):
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


DEPLOY = Deploy(name="disks", params_model=Params, params_for=params_for, batch_facts=True)

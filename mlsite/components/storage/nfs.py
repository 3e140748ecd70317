"""``NfsHa``: NFS homes on an RBD image, active/passive with fencing (or a single server)."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from dataclasses import dataclass

import pulumi

from mlsite.components.hosts.deploy import HostDeploy
from mlsite.components.hosts.layer import apply_one
from mlsite.components.storage.ceph import CephCluster
from mlsite.hosts.deploys.nfs_ha import params_for
from mlsite.spec.storage import Nfs


@dataclass(frozen=True)
class NfsHaArgs:
    """What ``NfsHa`` builds, and on which Ceph cluster (its RBD image lives there)."""

    ceph: CephCluster
    """The cluster holding the export's RBD image; the export starts once it is up."""
    nfs: Nfs | None = None
    """The export's description. Default: the site's ``storage.nfs``."""


class NfsHa(pulumi.ComponentResource):
    """The export of home directories. Parameters are built (and HA without fencing refused)
    before any resource is registered. The deploy holds data and is protected."""

    deploy: HostDeploy
    """The nfs_ha role applied to the NFS nodes."""
    address: pulumi.Output[str]
    """Where clients mount: the floating IP (ha) or the server's address (single)."""
    export_path: pulumi.Output[str]
    """The exported path, e.g. /home."""

    def __init__(
        self, name: str, args: NfsHaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        site = args.ceph.hosts.site
        if args.nfs is not None:
            site = site.model_copy(
                update={"storage": site.storage.model_copy(update={"nfs": args.nfs})}
            )
        nfs = site.storage.nfs
        if nfs is None:
            raise ValueError("NfsHa needs an export description (NfsHaArgs.nfs or storage.nfs)")
        params = params_for(site, site.hosts)  # refuses HA without fencing, before any resource
        super().__init__("mlsite:storage:NfsHa", name, None, opts)
        self.deploy = apply_one(
            self,
            name,
            opts,
            "nfs_ha",
            tuple(site.host(n) for n in nfs.nodes),
            params,
            after=[args.ceph.deploy],
            label="hosts",
            renamed_from="nfs-ha",
        )
        self.address = pulumi.Output.from_input(params.floating_ip or params.nodes[0].address)
        self.export_path = pulumi.Output.from_input(params.export_path)
        self.register_outputs({"address": self.address, "export_path": self.export_path})

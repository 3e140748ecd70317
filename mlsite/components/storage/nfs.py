"""``NfsHa``: NFS homes on an RBD image, active/passive with fencing (or a single server)."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

import pulumi

from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import HostGroup
from mlsite.components.storage.ceph import CephCluster
from mlsite.hosts.deploys.nfs_ha import params_for
from mlsite.spec import SiteSpec


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
        self,
        name: str,
        site: SiteSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        ceph: CephCluster,
    ) -> None:
        super().__init__("mlsite:storage:NfsHa", name, None, opts)
        nfs = site.storage.nfs
        if nfs is None:
            raise ValueError("NfsHa needs storage.nfs")
        params = params_for(site, site.hosts)
        nodes = tuple(site.host(n) for n in nfs.nodes)
        self.deploy = HostDeploy(
            f"{name}-nfs-ha",
            HostDeployArgs(HostGroup("nfs_ha", "nfs_ha", nodes), params),
            pulumi.ResourceOptions(parent=self, protect=True, depends_on=[ceph.deploy]),
        )
        self.address = pulumi.Output.from_input(params.floating_ip or params.nodes[0].address)
        self.export_path = pulumi.Output.from_input(params.export_path)
        self.register_outputs({"address": self.address, "export_path": self.export_path})

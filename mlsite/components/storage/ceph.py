"""``CephCluster``: the site's Ceph cluster, applied by the ceph host role."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

import pulumi

from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import HostGroup, host_entry
from mlsite.components.outputs import known
from mlsite.components.storage.keys import CephKeys
from mlsite.hosts.deploys.ceph import is_ceph_host, params_for
from mlsite.spec import SiteSpec
from mlsite.storage.ceph_plan import fsid, plan_mons

ADMIN = "client.admin"


class CephCluster(pulumi.ComponentResource):
    """MONs, MGRs, OSDs, MDSs, pools and CephFS on the site's hosts (distribution packages).

    The deploy holds the cluster's data: it is protected, so removing it from the site is a
    reviewed, two-step change."""

    deploy: HostDeploy
    """The ceph role applied to every Ceph (and RBD client) host."""
    fsid: pulumi.Output[str]
    """The cluster's fsid (fixed by the site and cluster name)."""
    mon_hosts: pulumi.Output[list[str]]
    """Monitor addresses, as clients list them in ``mon_host``."""
    admin_keyring: pulumi.Output[str | None]
    """The ``client.admin`` keyring (a secret): what NFS and db hosts use, and ceph-csi. None
    only in the offline plan, which reads no keys."""

    def __init__(
        self,
        name: str,
        site: SiteSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> None:
        super().__init__("mlsite:storage:CephCluster", name, None, opts)
        hosts = tuple(h for h in site.hosts if is_ceph_host(h))
        params = params_for(site, hosts)
        self.deploy = HostDeploy(
            f"{name}-ceph",
            HostDeployArgs(HostGroup("ceph", "ceph", hosts), params),
            pulumi.ResourceOptions(parent=self, protect=True, depends_on=depends_on or []),
        )
        keys = CephKeys(
            f"{name}-keys",
            host=host_entry(site.host(params.bootstrap)),
            cluster=params.cluster,
            fsid=params.fsid,
            entities=(ADMIN,),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deploy]),
        )
        self.fsid = pulumi.Output.from_input(fsid(site))
        self.mon_hosts = known([m.address for m in plan_mons(site)])
        self.admin_keyring = pulumi.Output.secret(keys.keyrings.apply(_admin))
        self.register_outputs(
            {"fsid": self.fsid, "mon_hosts": self.mon_hosts, "admin_keyring": self.admin_keyring}
        )


def _admin(keyrings: dict[str, str] | None) -> str | None:
    return keyrings[ADMIN] if keyrings else None

"""``CephCluster``: the site's Ceph cluster, applied by the ceph host role."""

from __future__ import annotations

import pulumi

from components.hosts.deploy import HostDeploy, HostDeployArgs
from components.hosts.inputs import HostGroup
from hosts.deploys.ceph import is_ceph_host, params_for
from mlsite.spec import SiteSpec
from mlsite.storage.ceph_plan import fsid, plan_mons


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
        self.deploy = HostDeploy(
            f"{name}-ceph",
            HostDeployArgs(HostGroup("ceph", "ceph", hosts), params_for(site, hosts)),
            pulumi.ResourceOptions(parent=self, protect=True, depends_on=depends_on or []),
        )
        self.fsid = pulumi.Output.from_input(fsid(site))
        self.mon_hosts = pulumi.Output.from_input([m.address for m in plan_mons(site)])
        self.register_outputs({"fsid": self.fsid, "mon_hosts": self.mon_hosts})

"""``CephCluster``: the site's Ceph cluster, applied by the ceph host role."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from dataclasses import dataclass

import pulumi

from mlsite.components.hosts.deploy import HostDeploy
from mlsite.components.hosts.hosts import Hosts
from mlsite.components.hosts.inputs import host_entry
from mlsite.components.hosts.layer import apply_one
from mlsite.components.options import child_options
from mlsite.components.outputs import known
from mlsite.components.storage.keys import CephKeys
from mlsite.hosts import deploys
from mlsite.hosts.deploys.ceph import fsid, params_for, plan_mons
from mlsite.spec.storage import Ceph

ADMIN = "client.admin"


@dataclass(frozen=True)
class CephClusterArgs:
    """What ``CephCluster`` builds, and on which host layer."""

    hosts: Hosts
    """The host layer: daemons start once its base deploy has run."""
    ceph: Ceph | None = None
    """The cluster's description. Default: the host layer's ``storage.ceph``."""


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

    hosts: Hosts
    """The host layer it runs on (NfsHa and PersonalDatabases read the site from it)."""

    def __init__(
        self, name: str, args: CephClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        site = args.hosts.site
        if args.ceph is not None:
            site = site.model_copy(
                update={"storage": site.storage.model_copy(update={"ceph": args.ceph})}
            )
        if site.storage.ceph is None:
            raise ValueError(
                "CephCluster needs a Ceph description (CephClusterArgs.ceph or the "
                "host layer's `storage.ceph`)"
            )
        params = params_for(site, site.hosts)
        super().__init__("mlsite:storage:CephCluster", name, None, opts)
        self.hosts = args.hosts
        self.deploy = apply_one(
            self,
            name,
            opts,
            "ceph",
            deploys.get("ceph").hosts(site),
            params,
            after=args.hosts.base,
            label="hosts",
            renamed_from="ceph",
        )
        keys = CephKeys(
            f"{name}-keys",
            host=host_entry(site.host(params.bootstrap)),
            cluster=params.cluster,
            fsid=params.fsid,
            entities=(ADMIN,),
            opts=child_options(self, opts, depends_on=[self.deploy]),
        )
        self.fsid = pulumi.Output.from_input(fsid(site))
        self.mon_hosts = known([m.address for m in plan_mons(site)])
        self.admin_keyring = pulumi.Output.secret(keys.keyrings.apply(_admin))
        self.register_outputs(
            {"fsid": self.fsid, "mon_hosts": self.mon_hosts, "admin_keyring": self.admin_keyring}
        )


def _admin(keyrings: dict[str, str] | None) -> str | None:
    return keyrings[ADMIN] if keyrings else None

"""``PersonalDatabases``: golden databases on RBD and the tool making per-user copies."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

import pulumi

from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import HostGroup
from mlsite.components.outputs import known
from mlsite.components.storage.ceph import CephCluster
from mlsite.hosts.deploys.personal_db import params_for
from mlsite.spec import Role, SiteSpec


class PersonalDatabases(pulumi.ComponentResource):
    """The db host's golden databases (protected: they hold the data users copy)."""

    deploy: HostDeploy
    """The personal_db role applied to the db host."""
    host: pulumi.Output[str]
    """The host serving the golden databases and the users' copies."""
    sets: pulumi.Output[list[str]]
    """Names of the database sets."""

    def __init__(
        self,
        name: str,
        site: SiteSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        ceph: CephCluster,
    ) -> None:
        super().__init__("mlsite:storage:PersonalDatabases", name, None, opts)
        params = params_for(site, site.hosts)
        db_host = site.hosts_with(Role.DB)[0]
        self.deploy = HostDeploy(
            f"{name}-personal-db",
            HostDeployArgs(HostGroup("personal_db", "personal_db", (db_host,)), params),
            pulumi.ResourceOptions(parent=self, protect=True, depends_on=[ceph.deploy]),
        )
        self.host = pulumi.Output.from_input(params.host)
        self.sets = known([s.name for s in params.sets])
        self.register_outputs({"host": self.host, "sets": self.sets})

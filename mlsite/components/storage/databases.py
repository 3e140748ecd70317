"""``PersonalDatabases``: golden databases on RBD and the tool making per-user copies."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from dataclasses import dataclass

import pulumi

from mlsite.components.hosts.deploy import HostDeploy
from mlsite.components.hosts.layer import apply_one
from mlsite.components.outputs import known
from mlsite.components.storage.ceph import CephCluster
from mlsite.hosts.deploys.personal_db import params_for
from mlsite.spec import Role
from mlsite.spec.storage import Databases


@dataclass(frozen=True)
class PersonalDatabasesArgs:
    """What ``PersonalDatabases`` builds, and on which Ceph cluster (the golden images)."""

    ceph: CephCluster
    """The cluster holding the golden images and the users' copies."""
    databases: Databases | None = None
    """The database sets. Default: the site's ``databases``."""


class PersonalDatabases(pulumi.ComponentResource):
    """The db host's golden databases (protected: they hold the data users copy)."""

    deploy: HostDeploy
    """The personal_db role applied to the db host."""
    host: pulumi.Output[str]
    """The host serving the golden databases and the users' copies."""
    sets: pulumi.Output[list[str]]
    """Names of the database sets."""

    def __init__(
        self, name: str, args: PersonalDatabasesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        site = args.ceph.hosts.site
        if args.databases is not None:
            site = site.model_copy(update={"databases": args.databases})
        params = params_for(site, site.hosts)
        super().__init__("mlsite:storage:PersonalDatabases", name, None, opts)
        self.deploy = apply_one(
            self,
            name,
            opts,
            "personal_db",
            site.hosts_with(Role.DB)[:1],
            params,
            after=[args.ceph.deploy],
            label="hosts",
            renamed_from="personal-db",
        )
        self.host = pulumi.Output.from_input(params.host)
        self.sets = known([s.name for s in params.sets])
        self.register_outputs({"host": self.host, "sets": self.sets})

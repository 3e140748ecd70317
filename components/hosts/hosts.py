"""``Hosts``: every role of the site applied to its hosts, one HostDeploy per host group."""

from __future__ import annotations

import pulumi

from components.hosts.deploy import HostDeploy, HostDeployArgs
from components.hosts.inputs import MAX_GROUP_HOSTS, plan_groups
from components.hosts.roles import BASE_ROLE, DATA_ROLES, roles
from mlsite.spec import SiteSpec


class Hosts(pulumi.ComponentResource):
    """The host layer of a site: ``base`` on every host first, then each role on the
    hosts having it. Data-bearing roles are protected."""

    deploys: dict[str, HostDeploy]
    """HostDeploys by group name (``<role>`` or ``<role>-<n>``)."""
    host_names: pulumi.Output[list[str]]
    """Names of the hosts managed, in description order."""

    def __init__(
        self,
        name: str,
        site: SiteSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        only_roles: frozenset[str] | None = None,
        max_group_hosts: int = MAX_GROUP_HOSTS,
    ) -> None:
        """``only_roles`` restricts the layer to these roles (custom stacks); default all."""
        super().__init__("mlsite:hosts:Hosts", name, None, opts)
        self.deploys = {}
        base: list[HostDeploy] = []
        for role in roles():
            if only_roles is not None and role.name not in only_roles:
                continue
            role_hosts = role.hosts(site)
            for group in plan_groups(role.name, role_hosts, max_group_hosts):
                deploy = HostDeploy(
                    f"{name}-{group.name}",
                    HostDeployArgs(group, role.params_for(site, group.hosts)),
                    pulumi.ResourceOptions(parent=self, protect=role.name in DATA_ROLES),
                    depends_on=() if role.name == BASE_ROLE else base,
                )
                self.deploys[group.name] = deploy
                if role.name == BASE_ROLE:
                    base.append(deploy)
        self.host_names = pulumi.Output.from_input([h.name for h in site.hosts])
        self.register_outputs({"host_names": self.host_names, "groups": sorted(self.deploys)})

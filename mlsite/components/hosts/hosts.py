"""``Hosts``: every role of the site applied to its hosts, one HostDeploy per host group."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from typing import Any

import pulumi
from pydantic import BaseModel

from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import MAX_GROUP_HOSTS, plan_groups
from mlsite.components.hosts.roles import BASE_ROLE, DATA_ROLES, roles
from mlsite.components.outputs import known
from mlsite.spec import SiteSpec


class Hosts(pulumi.ComponentResource):
    """The host layer of a site: ``base`` on every host first, then each role on the
    hosts having it. Data-bearing roles are protected."""

    deploys: dict[str, HostDeploy]
    """HostDeploys by group name (``<role>`` or ``<role>-<n>``)."""
    base: list[HostDeploy]
    """The base-layer deploys: every other part of the site waits for them."""
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
        site_ca_pem: pulumi.Input[str] | None = None,
    ) -> None:
        """``only_roles`` restricts the layer to these roles (custom stacks); default all.
        ``site_ca_pem``: the site CA certificate, given to every role whose parameters have a
        ``ca_pem`` field (containerd trusts it for the site registry)."""
        super().__init__("mlsite:hosts:Hosts", name, None, opts)
        self.deploys = {}
        self.base = base = list[HostDeploy]()
        for role in roles():
            if only_roles is not None and role.name not in only_roles:
                continue
            role_hosts = role.hosts(site)
            for group in plan_groups(role.name, role_hosts, max_group_hosts):
                params = role.params_for(site, group.hosts)
                deploy = HostDeploy(
                    f"{name}-{group.name}",
                    HostDeployArgs(group, _with_ca(params, site_ca_pem)),
                    pulumi.ResourceOptions(parent=self, protect=role.name in DATA_ROLES),
                    depends_on=() if role.name == BASE_ROLE else base,
                )
                self.deploys[group.name] = deploy
                if role.name == BASE_ROLE:
                    base.append(deploy)
        self.host_names = known([h.name for h in site.hosts])
        self.register_outputs({"host_names": self.host_names, "groups": sorted(self.deploys)})


def _with_ca(
    params: BaseModel | dict[str, Any], ca_pem: pulumi.Input[str] | None
) -> BaseModel | dict[str, Any] | pulumi.Output[Any]:
    """``params`` with the site CA filled in, for roles whose parameters take one."""
    if (
        ca_pem is None
        or not isinstance(params, BaseModel)
        or "ca_pem" not in type(params).model_fields
    ):
        return params
    if params.ca_pem is not None:  # type: ignore[attr-defined]
        return params  # the role already has a CA (a provided one)
    return pulumi.Output.from_input(ca_pem).apply(
        lambda pem: params.model_copy(update={"ca_pem": pem}) if pem else params
    )

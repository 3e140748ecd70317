"""Which roles exist, which hosts take each, and each role's parameters.

The source of truth is the registry in ``mlsite.hosts.roles`` (role -> deploy, Params model,
``params_for(site, hosts)``, ``applies_to(host)``); this module only adds what the Pulumi
layer decides: the order (``base`` first) and which roles hold data (protected).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlsite.hosts.params import RoleParams
from mlsite.hosts.roles import RoleDeploy, get_role, role_names
from mlsite.spec import Host, SiteSpec

BASE_ROLE = "base"
"""The layer every host gets first (OS base, users, SSH); every other role depends on it."""

DATA_ROLES = frozenset(
    {"ceph", "ceph-mon", "ceph-osd", "ceph-mds", "nfs", "nfs_ha", "registry", "db", "personal_db"}
)
"""Roles whose hosts hold data; their HostDeploys are protected."""

COMPONENT_ROLES = frozenset(
    {"registry", "ceph", "nfs_ha", "personal_db", "image_build", "image_prepull"}
)
"""Roles whose parameters need deploy-time values from other resources (the generated site
CA, Ceph keyrings): the part's own component (``mlsite.components.registry.Registry``, ...)
creates their HostDeploys with that wiring; the plain host layer leaves them out."""


@dataclass(frozen=True)
class RoleSpec:
    """A role as the Pulumi layer needs it."""

    name: str
    deploy: RoleDeploy

    def hosts(self, site: SiteSpec) -> tuple[Host, ...]:
        """The hosts taking this role, in description order."""
        return tuple(h for h in site.hosts if self.deploy.applies_to(h))

    def params_for(self, site: SiteSpec, hosts: tuple[Host, ...]) -> RoleParams:
        """The role's parameters for one group of hosts (pure)."""
        return self.deploy.params_for(site, hosts)


def roles(include_component_roles: bool = False) -> list[RoleSpec]:
    """Every registered role, ``base`` first, then in registry order; without the roles
    that parts' components apply themselves unless ``include_component_roles``."""
    names = sorted(
        (n for n in role_names() if include_component_roles or n not in COMPONENT_ROLES),
        key=lambda n: n != BASE_ROLE,
    )
    return [RoleSpec(n, get_role(n)) for n in names]

"""Which roles exist, which hosts take each, and each role's parameters.

The source of truth is the registry in ``hosts.roles`` (role -> deploy, Params model,
``params_for(site, hosts)``). Until that module exists, a built-in table gives every
role of ``mlsite.spec.Role`` plus ``base`` (every host) the part of the site description
the role needs, so plans and diffs already show what each role depends on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from mlsite.spec import Host, Role, SiteSpec

BASE_ROLE = "base"
"""The layer every host gets (OS base, users, SSH, NICs, disks, GPU driver, containerd)."""

DATA_ROLES = frozenset({"ceph-mon", "ceph-osd", "ceph-mds", "nfs", "registry", "db"})
"""Roles whose hosts hold data; their HostDeploys are protected."""

ParamsFor = Callable[[SiteSpec, Sequence[Host]], BaseModel | dict[str, Any]]


@dataclass(frozen=True)
class RoleSpec:
    """A role as the Pulumi layer needs it."""

    name: str
    params_for: ParamsFor

    def hosts(self, site: SiteSpec) -> tuple[Host, ...]:
        """The hosts taking this role, in description order."""
        if self.name == BASE_ROLE:
            return site.hosts
        return tuple(h for h in site.hosts if self.name in {r.value for r in h.roles})


def _site_basics(site: SiteSpec) -> dict[str, Any]:
    s = site.site
    return {"name": s.name, "domain": s.domain, "timezone": s.timezone, "dns": s.dns, "ntp": s.ntp}


def _builtin_params(role: str) -> ParamsFor:
    def params_for(site: SiteSpec, hosts: Sequence[Host]) -> dict[str, Any]:
        part: dict[str, Any] = {}
        if role == BASE_ROLE:
            part = {
                "hosts": {h.name: {"nics": h.nics, "bonds": h.bonds, "gpus": h.gpus} for h in hosts}
            }
        elif role.startswith("ceph-"):
            part = {"ceph": site.storage.ceph}
        elif role == Role.NFS.value:
            part = {"nfs": site.storage.nfs}
        elif role == Role.REGISTRY.value:
            part = {"registry": site.registry}
        elif role.startswith("k8s-"):
            part = {"cluster": site.cluster}
        elif role == Role.DB.value:
            part = {"databases": site.databases}
        elif role == Role.BUILD.value:
            part = {"images": site.images}
        return {"site": _site_basics(site), **part}

    return params_for


def _from_registry() -> list[RoleSpec] | None:
    try:
        module = importlib.import_module("hosts.roles")
    except ModuleNotFoundError as exc:
        if exc.name not in ("hosts.roles", "hosts"):
            raise  # hosts.roles exists but is broken: say so, never hide it
        return None
    registry = getattr(module, "ROLES", None) or getattr(module, "REGISTRY", None)
    if not isinstance(registry, dict):
        return None
    specs = []
    for name, entry in registry.items():
        params_for = getattr(entry, "params_for", None)
        if params_for is None and isinstance(entry, tuple):
            params_for = entry[-1]
        if not callable(params_for):
            raise TypeError(f"hosts.roles: role {name!r} has no params_for(site, hosts)")
        specs.append(RoleSpec(str(name), params_for))
    return specs


def roles() -> list[RoleSpec]:
    """Every role, ``base`` first: the registry of ``hosts.roles``, else the built-in table."""
    specs = _from_registry()
    if specs is None:
        names = [BASE_ROLE, *(r.value for r in Role)]
        specs = [RoleSpec(n, _builtin_params(n)) for n in names]
    return sorted(specs, key=lambda r: (r.name != BASE_ROLE, 0))

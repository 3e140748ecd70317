"""The role registry: role name -> (deploy function, Params model, params builder).

Later issues add roles (registry, ceph, nfs_ha, personal_db) with ``register``; the runner,
the inventory CLI entry and the Pulumi layer only ever look roles up here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlsite.hosts.params import RoleParams
from mlsite.spec import Host, SiteSpec

ParamsFor = Callable[[SiteSpec, tuple[Host, ...]], RoleParams]


@dataclass(frozen=True)
class RoleDeploy:
    """One role: its pyinfra deploy, its parameter model and the pure parameter builder."""

    name: str
    deploy: Callable[..., Any]
    """The ``@deploy`` function; called with one argument, the role's ``Params``."""
    params_model: type[RoleParams]
    params_for: ParamsFor
    """Pure: site description + the hosts of one group -> parameters."""
    applies_to: Callable[[Host], bool] = lambda host: True
    """Hosts the role is meant for (the gpu role: hosts with GPUs). Default: every host."""
    batch_facts: bool = False
    """Read the deploy's facts in batches (``mlsite.hosts.prefetch``), which evaluates the deploy
    in a scratch state first. Only for deploys that read facts of the current host alone
    and keep no state between calls: the ceph deploy, for one, reads the bootstrap
    monitor's keyring and caches the cluster keys, and a scratch evaluation there would
    make new keys. Default: off (one SSH command per fact)."""


_MODULES: dict[str, str] = {
    "base": "mlsite.hosts.deploys.base",
    "network": "mlsite.hosts.deploys.network",
    "disks": "mlsite.hosts.deploys.disks",
    "gpu": "mlsite.hosts.deploys.gpu",
    "registry": "mlsite.hosts.deploys.registry",
    "image_build": "mlsite.hosts.deploys.image_build",
    "containerd": "mlsite.hosts.deploys.containerd",
    "monitoring_agent": "mlsite.hosts.deploys.monitoring_agent",
    "ceph": "mlsite.hosts.deploys.ceph",
    "personal_db": "mlsite.hosts.deploys.personal_db",
    "nfs_ha": "mlsite.hosts.deploys.nfs_ha",
    "image_prepull": "mlsite.hosts.deploys.image_prepull",
}
"""Built-in roles and the module defining each (each module exports ``ROLE``)."""

_REGISTRY: dict[str, RoleDeploy] = {}


def register(role: RoleDeploy) -> RoleDeploy:
    """Add a role (later issues: registry, ceph, nfs_ha, personal_db). Names are unique."""
    existing = _REGISTRY.get(role.name)
    if existing is not None and existing is not role:
        raise ValueError(f"role {role.name!r} is already registered")
    _REGISTRY[role.name] = role
    return role


def role_names() -> tuple[str, ...]:
    """Every known role name, built-in ones first."""
    return tuple(dict.fromkeys([*_MODULES, *_REGISTRY]))


def get_role(name: str) -> RoleDeploy:
    """The role called ``name``; KeyError listing the known roles otherwise."""
    if name not in _REGISTRY and name in _MODULES:
        module = importlib.import_module(_MODULES[name])
        register(module.ROLE)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown role {name!r}; known roles: {', '.join(role_names())}") from None

"""The deploys: what mlsite applies to hosts, one wing (folder) per deploy.

Words: a host's **role** (``ceph-mon``, ``gpu``, ``registry``: ``mlsite.spec.Role``) says what
the host is for; a **deploy** (``base``, ``ceph``, ``nfs_ha``) is what gets applied to the
hosts whose roles ask for it. Each deploy is a folder here:

- ``<deploy>/__init__.py``, the pure half: its typed ``Params``, ``params_for(site, hosts)``,
  planning and rendering. No pyinfra: components, the offline plan and the lab import it.
- ``<deploy>/apply.py``, the pyinfra half: the ``@deploy`` function, named like the deploy,
  that the runner (and ``pyinfra mlsite/hosts/inventory.py .../apply.py``) runs.

This module is the catalogue: each wing's ``DEPLOY`` describes it, and ``get(name)`` finds it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, SiteSpec

ParamsFor = Callable[[SiteSpec, tuple[Host, ...]], DeployParams]

BASE = "base"
"""The deploy every host gets first (OS base, users, SSH); every other deploy waits for it."""


def every_host(host: Host) -> bool:
    """The default ``applies_to``: the deploy is for every host of the site."""
    return True


@dataclass(frozen=True)
class Deploy:
    """One deploy as the rest of mlsite sees it (pure: nothing here imports pyinfra)."""

    name: str
    params_model: type[DeployParams]
    params_for: ParamsFor
    """Pure: site description + the hosts of one group -> parameters."""
    applies_to: Callable[[Host], bool] = every_host
    """Hosts the deploy is for (gpu: hosts with GPUs). Default: every host."""
    batch_facts: bool = False
    """Read the deploy's facts in batches (``mlsite.hosts.prefetch``), which evaluates the
    deploy in a scratch state first. Only for deploys that read facts of the current host
    alone and keep no state between calls: the ceph deploy, for one, reads the bootstrap
    monitor's keyring and caches the cluster keys, and a scratch evaluation there would
    make new keys. Default: off (one SSH command per fact)."""
    holds_data: bool = False
    """Its hosts hold data the site cannot lose: its HostDeploys are protected."""
    component: str | None = None
    """The component that applies it, when its parameters need values of other resources
    (the site CA, Ceph keys): ``Hosts`` leaves such deploys to that component."""

    def hosts(self, site: SiteSpec) -> tuple[Host, ...]:
        """The hosts taking this deploy, in description order."""
        return tuple(h for h in site.hosts if self.applies_to(h))

    def function(self) -> Callable[..., Any]:
        """The pyinfra ``@deploy`` function (imports the wing's pyinfra half)."""
        module = importlib.import_module(f"{__name__}.{self.name}.apply")
        fn: Callable[..., Any] = getattr(module, self.name)
        return fn


BUILT_IN = (
    "base",
    "network",
    "disks",
    "gpu",
    "registry",
    "image_build",
    "containerd",
    "monitoring_agent",
    "ceph",
    "personal_db",
    "nfs_ha",
    "image_prepull",
)
"""The deploys mlsite ships, in the order ``Hosts`` applies them (``base`` first)."""

_REGISTRY: dict[str, Deploy] = {}


def register(deploy: Deploy) -> Deploy:
    """Add a deploy of one's own (its module must be importable as ``function`` expects
    only for built-in ones; others pass their own ``Deploy``). Names are unique."""
    existing = _REGISTRY.get(deploy.name)
    if existing is not None and existing is not deploy:
        raise ValueError(f"deploy {deploy.name!r} is already registered")
    _REGISTRY[deploy.name] = deploy
    return deploy


def names() -> tuple[str, ...]:
    """Every known deploy name, built-in ones first."""
    return tuple(dict.fromkeys([*BUILT_IN, *_REGISTRY]))


def get(name: str) -> Deploy:
    """The deploy called ``name``; ``UnknownDeploy`` listing the known ones otherwise."""
    if name not in _REGISTRY and name in BUILT_IN:
        register(importlib.import_module(f"{__name__}.{name}").DEPLOY)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownDeploy(name) from None


class UnknownDeploy(KeyError):
    """A deploy name that is not in the catalogue; the message lists the valid ones."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown deploy {self.name!r}; valid deploys: {', '.join(names())}"


def check_names(wanted: frozenset[str] | set[str], field: str) -> None:
    """Refuse unknown deploy names in ``wanted`` (``field`` names the argument)."""
    unknown = sorted(set(wanted) - set(names()))
    if unknown:
        raise ValueError(
            f"{field}: unknown deploy {', '.join(map(repr, unknown))}; "
            f"valid deploys: {', '.join(names())}"
        )

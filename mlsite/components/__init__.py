"""Pulumi components of an ML site: import what a stack program composes from here.

Names load lazily: the engine's provider process imports only the provider module.

Modules defining resource classes do without ``from __future__ import annotations``: Pulumi
reads a resource class's annotations again at every registration of one of its resources
(``typing.get_type_hints``, to type its outputs), and string annotations cost it a compile
and an eval each time, about half of that work (~1.5 ms of a 24-resource plan).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
    from mlsite.components.hosts.hosts import Hosts
    from mlsite.components.images import RuntimeImage
    from mlsite.components.program import site_from_config
    from mlsite.components.registry import Registry, SiteCa
    from mlsite.components.site import Site
    from mlsite.components.storage.ceph import CephCluster
    from mlsite.components.storage.databases import PersonalDatabases
    from mlsite.components.storage.nfs import NfsHa

_WHERE = {
    "HostDeploy": "mlsite.components.hosts.deploy",
    "HostDeployArgs": "mlsite.components.hosts.deploy",
    "Hosts": "mlsite.components.hosts.hosts",
    "Site": "mlsite.components.site",
    "Registry": "mlsite.components.registry.registry",
    "SiteCa": "mlsite.components.registry.ca",
    "RuntimeImage": "mlsite.components.images.runtime_image",
    "site_from_config": "mlsite.components.program",
    "CephCluster": "mlsite.components.storage.ceph",
    "NfsHa": "mlsite.components.storage.nfs",
    "PersonalDatabases": "mlsite.components.storage.databases",
}

COMPONENTS = (
    "HostDeploy",
    "Hosts",
    "Site",
    "Registry",
    "SiteCa",
    "RuntimeImage",
    "CephCluster",
    "NfsHa",
    "PersonalDatabases",
)
"""Every exported resource class (the conventions test walks these)."""

__all__ = [
    "COMPONENTS",
    "CephCluster",
    "HostDeploy",
    "HostDeployArgs",
    "Hosts",
    "NfsHa",
    "PersonalDatabases",
    "Registry",
    "RuntimeImage",
    "Site",
    "SiteCa",
    "site_from_config",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

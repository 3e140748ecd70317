"""Pulumi components of an ML site: import what a stack program composes from here.

Each component follows Pulumi's convention, ``Component(name, args, opts)``: its Args hold
its slice of the site description and its wiring (other components, passed as objects).
``opts`` reaches every child (``depends_on``, ``protect``, providers). Composed the natural
way (a ``Hosts`` first, the rest on it), the site CA and the order come wired::

    site = load_stack("mysite").site
    hosts = Hosts("hosts", HostsArgs(site))
    registry = Registry("registry", RegistryArgs(hosts))

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
    from mlsite.components.ca import SiteCa, SiteCaOutputs, site_ca
    from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
    from mlsite.components.hosts.hosts import Hosts, HostsArgs
    from mlsite.components.images.runtime_image import RuntimeImage, RuntimeImageArgs
    from mlsite.components.program import site_from_config
    from mlsite.components.registry.registry import Registry, RegistryArgs
    from mlsite.components.site import Site, SiteArgs
    from mlsite.components.storage.ceph import CephCluster, CephClusterArgs
    from mlsite.components.storage.databases import PersonalDatabases, PersonalDatabasesArgs
    from mlsite.components.storage.nfs import NfsHa, NfsHaArgs
    from mlsite.spec import SiteSpec, load_stack

_WHERE = {
    "HostDeploy": "mlsite.components.hosts.deploy",
    "HostDeployArgs": "mlsite.components.hosts.deploy",
    "Hosts": "mlsite.components.hosts.hosts",
    "HostsArgs": "mlsite.components.hosts.hosts",
    "Site": "mlsite.components.site",
    "SiteArgs": "mlsite.components.site",
    "Registry": "mlsite.components.registry.registry",
    "RegistryArgs": "mlsite.components.registry.registry",
    "SiteCa": "mlsite.components.ca",
    "SiteCaOutputs": "mlsite.components.ca",
    "site_ca": "mlsite.components.ca",
    "RuntimeImage": "mlsite.components.images.runtime_image",
    "RuntimeImageArgs": "mlsite.components.images.runtime_image",
    "CephCluster": "mlsite.components.storage.ceph",
    "CephClusterArgs": "mlsite.components.storage.ceph",
    "NfsHa": "mlsite.components.storage.nfs",
    "NfsHaArgs": "mlsite.components.storage.nfs",
    "PersonalDatabases": "mlsite.components.storage.databases",
    "PersonalDatabasesArgs": "mlsite.components.storage.databases",
    "site_from_config": "mlsite.components.program",
    "load_stack": "mlsite.spec",
    "SiteSpec": "mlsite.spec",
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
    "CephClusterArgs",
    "HostDeploy",
    "HostDeployArgs",
    "Hosts",
    "HostsArgs",
    "NfsHa",
    "NfsHaArgs",
    "PersonalDatabases",
    "PersonalDatabasesArgs",
    "Registry",
    "RegistryArgs",
    "RuntimeImage",
    "RuntimeImageArgs",
    "Site",
    "SiteArgs",
    "SiteCa",
    "SiteCaOutputs",
    "SiteSpec",
    "load_stack",
    "site_ca",
    "site_from_config",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

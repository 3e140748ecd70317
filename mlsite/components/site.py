"""``Site``: the whole site, one child component per part of the site description."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pulumi

from mlsite.components.ca import SiteCaOutputs, site_ca
from mlsite.components.hosts.hosts import Hosts, HostsArgs
from mlsite.components.images.runtime_image import RuntimeImage, RuntimeImageArgs
from mlsite.components.options import child_options
from mlsite.components.registry.registry import Registry, RegistryArgs
from mlsite.components.storage.ceph import CephCluster, CephClusterArgs
from mlsite.components.storage.databases import PersonalDatabases, PersonalDatabasesArgs
from mlsite.components.storage.nfs import NfsHa, NfsHaArgs
from mlsite.spec import Role, SiteSpec

C = TypeVar("C", bound=pulumi.ComponentResource)


@dataclass
class Build:
    """What a part is built from: the site, its name, the CA, and the parts built so far."""

    name: str
    site: SiteSpec
    opts: pulumi.ResourceOptions
    ca: SiteCaOutputs
    built: dict[str, pulumi.ComponentResource] = field(default_factory=dict)

    def part(self, key: str, kind: type[C]) -> C:
        """An earlier part, typed."""
        component = self.built[key]
        assert isinstance(component, kind)  # PARTS order guarantees it
        return component


@dataclass(frozen=True)
class Part:
    """A part of the site: its components by key (none when the site does not have it)."""

    name: str
    build: Callable[[Build], dict[str, pulumi.ComponentResource]]


def _hosts(b: Build) -> dict[str, pulumi.ComponentResource]:
    return {"hosts": Hosts(f"{b.name}-hosts", HostsArgs(b.site, ca=b.ca), b.opts)}


def _registry(b: Build) -> dict[str, pulumi.ComponentResource]:
    if b.site.registry is None or not b.site.hosts_with(Role.REGISTRY):
        return {}
    hosts = b.part("hosts", Hosts)
    return {"registry": Registry(f"{b.name}-registry", RegistryArgs(hosts), b.opts)}


def _images(b: Build) -> dict[str, pulumi.ComponentResource]:
    if "registry" not in b.built:
        return {}
    registry = b.part("registry", Registry)
    images: dict[str, pulumi.ComponentResource] = {}
    after: list[pulumi.Resource] = []  # one build host: its builds run one after the other
    for image in b.site.images:
        built = RuntimeImage(
            f"{b.name}-image-{image.name}", RuntimeImageArgs(image, registry, after), b.opts
        )
        images[f"image:{image.name}"] = built
        if built.build is not None:
            after = [built.build]
    return images


def _ceph(b: Build) -> dict[str, pulumi.ComponentResource]:
    if b.site.storage.ceph is None:
        return {}
    return {"ceph": CephCluster(f"{b.name}-ceph", CephClusterArgs(b.part("hosts", Hosts)), b.opts)}


def _nfs(b: Build) -> dict[str, pulumi.ComponentResource]:
    if b.site.storage.nfs is None:
        return {}
    return {"nfs": NfsHa(f"{b.name}-nfs", NfsHaArgs(b.part("ceph", CephCluster)), b.opts)}


def _databases(b: Build) -> dict[str, pulumi.ComponentResource]:
    if not b.site.databases.personal:
        return {}
    args = PersonalDatabasesArgs(b.part("ceph", CephCluster))
    return {"databases": PersonalDatabases(f"{b.name}-databases", args, b.opts)}


PARTS: tuple[Part, ...] = (
    Part("hosts", _hosts),
    Part("registry", _registry),
    Part("images", _images),
    Part("ceph", _ceph),
    Part("nfs", _nfs),
    Part("databases", _databases),
)
"""The parts in build order; a new part is one function and one line here."""


@dataclass(frozen=True)
class SiteArgs:
    """What ``Site`` builds: every part of one site description."""

    site: SiteSpec
    """The site description (``mlsite.spec.load_stack`` or ``site_from_config``)."""


class Site(pulumi.ComponentResource):
    """A machine-learning site built from its description."""

    parts: dict[str, pulumi.ComponentResource]
    """The components built, by key (only the parts the site has)."""
    name: pulumi.Output[str]
    """The site's name."""
    ca_cert_pem: pulumi.Output[str]
    """The site CA certificate, trusted by every host."""

    def __init__(
        self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        site = args.site
        super().__init__("mlsite:site:Site", name, None, opts)
        child = child_options(self, opts)
        build = Build(name, site, child, site_ca(f"{name}-ca", site, child))
        for part in PARTS:
            build.built.update(part.build(build))
        self.parts = build.built
        self.name = pulumi.Output.from_input(site.site.name)
        self.ca_cert_pem = build.ca.cert_pem
        self.register_outputs(
            {"name": self.name, "ca_cert_pem": self.ca_cert_pem, "parts": sorted(self.parts)}
        )

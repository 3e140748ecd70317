"""``Site``: the whole site, one child component per part of the site description."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pulumi

from mlsite.components.hosts.hosts import Hosts
from mlsite.components.images.runtime_image import RuntimeImage
from mlsite.components.registry.ca import SiteCaOutputs, site_ca
from mlsite.components.registry.registry import Registry
from mlsite.components.storage.ceph import CephCluster
from mlsite.components.storage.databases import PersonalDatabases
from mlsite.components.storage.nfs import NfsHa
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
    return {"hosts": Hosts(f"{b.name}-hosts", b.site, b.opts, site_ca_pem=b.ca.cert_pem)}


def _registry(b: Build) -> dict[str, pulumi.ComponentResource]:
    if b.site.registry is None or not b.site.hosts_with(Role.REGISTRY):
        return {}
    hosts = b.part("hosts", Hosts)
    return {"registry": Registry(f"{b.name}-registry", b.site, b.opts, hosts=hosts, ca=b.ca)}


def _images(b: Build) -> dict[str, pulumi.ComponentResource]:
    if "registry" not in b.built:
        return {}
    registry = b.part("registry", Registry)
    images: dict[str, pulumi.ComponentResource] = {}
    after: list[pulumi.Resource] = []  # one build host: its builds run one after the other
    for image in b.site.images:
        built = RuntimeImage(
            f"{b.name}-image-{image.name}",
            image,
            b.opts,
            site=b.site,
            registry=registry,
            after=after,
        )
        images[f"image:{image.name}"] = built
        if built.build is not None:
            after = [built.build]
    return images


def _ceph(b: Build) -> dict[str, pulumi.ComponentResource]:
    if b.site.storage.ceph is None:
        return {}
    base = b.part("hosts", Hosts).base
    return {"ceph": CephCluster(f"{b.name}-ceph", b.site, b.opts, depends_on=list(base))}


def _nfs(b: Build) -> dict[str, pulumi.ComponentResource]:
    if b.site.storage.nfs is None:
        return {}
    return {"nfs": NfsHa(f"{b.name}-nfs", b.site, b.opts, ceph=b.part("ceph", CephCluster))}


def _databases(b: Build) -> dict[str, pulumi.ComponentResource]:
    if not b.site.databases.personal:
        return {}
    ceph = b.part("ceph", CephCluster)
    return {"databases": PersonalDatabases(f"{b.name}-databases", b.site, b.opts, ceph=ceph)}


PARTS: tuple[Part, ...] = (
    Part("hosts", _hosts),
    Part("registry", _registry),
    Part("images", _images),
    Part("ceph", _ceph),
    Part("nfs", _nfs),
    Part("databases", _databases),
)
"""The parts in build order; a new part is one function and one line here."""


class Site(pulumi.ComponentResource):
    """A machine-learning site built from its description."""

    parts: dict[str, pulumi.ComponentResource]
    """The components built, by key (only the parts the site has)."""
    name: pulumi.Output[str]
    """The site's name."""
    ca_cert_pem: pulumi.Output[str]
    """The site CA certificate, trusted by every host."""

    def __init__(
        self, name: str, site: SiteSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlsite:site:Site", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        build = Build(name, site, child, site_ca(f"{name}-ca", site, child))
        for part in PARTS:
            build.built.update(part.build(build))
        self.parts = build.built
        self.name = pulumi.Output.from_input(site.site.name)
        self.ca_cert_pem = build.ca.cert_pem
        self.register_outputs(
            {"name": self.name, "ca_cert_pem": self.ca_cert_pem, "parts": sorted(self.parts)}
        )

"""``Site``: the whole site, one child component per part of the site description."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi

from components.hosts.hosts import Hosts
from mlsite.spec import SiteSpec

Built = Mapping[str, pulumi.ComponentResource]
"""Parts built so far, by part name: later parts take earlier ones as objects."""


@dataclass(frozen=True)
class Part:
    """A part of the site: how to build its component, or ``None`` when the site has none."""

    name: str
    build: Callable[[str, SiteSpec, pulumi.ResourceOptions, Built], pulumi.ComponentResource | None]


PARTS: tuple[Part, ...] = (
    Part("hosts", lambda name, site, opts, built: Hosts(f"{name}-hosts", site, opts)),
    # Each new part is one line here, e.g.
    # Part("registry", lambda n, s, o, b: Registry(f"{n}-registry", s.registry, o, hosts=b["hosts"]) if s.registry else None),
)
"""The parts in build order."""


class Site(pulumi.ComponentResource):
    """A machine-learning site built from its description."""

    parts: dict[str, pulumi.ComponentResource]
    """The components built, by part name (only the parts the site has)."""
    name: pulumi.Output[str]
    """The site's name."""

    def __init__(
        self, name: str, site: SiteSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlsite:site:Site", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.parts = {}
        for part in PARTS:
            component = part.build(name, site, child, self.parts)
            if component is not None:
                self.parts[part.name] = component
        self.name = pulumi.Output.from_input(site.site.name)
        self.register_outputs({"name": self.name, "parts": sorted(self.parts)})

"""``SiteSpec``: the whole site description."""

from __future__ import annotations

from pydantic import Field, model_validator

from mlsite.spec.base import Model
from mlsite.spec.cloud import Cloud
from mlsite.spec.cluster import Cluster, Monitoring, Workspaces
from mlsite.spec.hosts import Host, Role
from mlsite.spec.rules import RuleViolations, check
from mlsite.spec.services import Registry, RuntimeImage
from mlsite.spec.site import SiteInfo
from mlsite.spec.storage import Databases, Storage


class SiteSpec(Model):
    """A machine-learning site: its hosts and every part running on them."""

    site: SiteInfo
    """Identity, networks and basic services of the site."""
    hosts: tuple[Host, ...] = Field(min_length=1)
    """The machines of the site."""
    storage: Storage = Storage()
    """Ceph and NFS homes. Default: none."""
    databases: Databases = Databases()
    """Personal database copies. Default: none."""
    registry: Registry | None = None
    """The private registry. Default: none."""
    images: tuple[RuntimeImage, ...] = ()
    """Runtime images. Default: none."""
    cluster: Cluster | None = None
    """Kubernetes. Default: none."""
    workspaces: Workspaces | None = None
    """User workspaces. Default: none."""
    monitoring: Monitoring | None = None
    """Monitoring. Default: none."""
    cloud: Cloud = Cloud()
    """Cloud burst capacity. Default: none."""

    @model_validator(mode="after")
    def _cross_field_rules(self) -> SiteSpec:
        problems = check(self)
        if problems:
            raise RuleViolations(problems)
        return self

    def hosts_with(self, role: Role) -> tuple[Host, ...]:
        """Hosts having ``role``, in description order."""
        return tuple(h for h in self.hosts if h.has(role))

    def host(self, name: str) -> Host:
        """The host called ``name``."""
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    @property
    def is_lab(self) -> bool:
        """True when every host is a lab host."""
        return all(h.lab for h in self.hosts)

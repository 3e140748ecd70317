"""The site itself: identity, networks, name and time services, certificate authority."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, StringConstraints

from mlsite.spec.base import IpAddress, IpNetwork, Model, Name, Secret


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _iana_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(
            f"{value!r} is not an IANA time zone name (e.g. Asia/Tokyo, Europe/Berlin, UTC)"
        )
    return value


class Networks(Model):
    """Site networks."""

    management: IpNetwork
    """Network every host's ``address`` lies in (SSH, Kubernetes, NFS clients)."""
    storage: IpNetwork | None = None
    """Separate network for Ceph replication. Default: none; storage shares management."""
    gateway: IpAddress | None = None
    """Default route of the hosts, inside the management network. Default: none; the
    network deploy writes no route and leaves the host's current default route alone."""


class GeneratedCa(Model):
    """A site CA that mlsite generates (kept in the Pulumi state as a secret)."""

    source: Literal["generate"] = "generate"
    """Generate the CA."""
    validity_days: Annotated[int, Field(ge=30, le=36500)] = 3650
    """Lifetime of the CA certificate. Default: 3650 days."""


class ProvidedCa(Model):
    """A site CA the organisation already has."""

    source: Literal["provided"]
    """Use the given CA."""
    certificate: str
    """PEM certificate of the CA."""
    key: Secret
    """PEM private key of the CA (a secret)."""


class SiteInfo(Model):
    """Identity and basic services of the site."""

    name: Name
    """Site name; prefixes cloud resources and labels metrics."""
    domain: Annotated[
        str, StringConstraints(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    ]
    """DNS domain of the hosts, e.g. ml.example.com."""
    kind: Literal["production", "single-node", "lab"] = "production"
    """``production`` enforces redundancy (3+ Ceph MONs); ``single-node`` and ``lab``
    allow a single MON. Default: production."""
    timezone: Annotated[str, AfterValidator(_iana_zone)] = "UTC"
    """IANA time zone of the hosts. Default: UTC."""
    networks: Networks
    """Site networks."""
    dns: tuple[IpAddress, ...] = ()
    """DNS resolvers. Default: the hosts' current resolvers are kept."""
    ntp: tuple[str, ...] = ()
    """NTP servers. Default: the distribution's pool."""
    ca: Annotated[GeneratedCa | ProvidedCa, Field(discriminator="source")] = GeneratedCa()
    """Site certificate authority (signs the registry's certificate). Default: generated."""

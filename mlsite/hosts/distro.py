"""Which distribution a host runs, from its os-release (``mlsite.hosts.facts.OsRelease``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyinfra.context import host

from mlsite.hosts.facts import OsRelease

Family = Literal["debian", "ubuntu"]

SUPPORTED = "Debian 12, Debian 13, Ubuntu 22.04, Ubuntu 24.04"


class UnsupportedDistribution(RuntimeError):
    """The host runs a distribution mlsite does not configure."""


@dataclass(frozen=True)
class Distro:
    """A supported distribution and release."""

    family: Family
    major: int
    codename: str

    @property
    def uses_netplan(self) -> bool:
        """Ubuntu configures networks with netplan, Debian with ifupdown."""
        return self.family == "ubuntu"

    @property
    def nvidia_repo(self) -> str:
        """The path segment of NVIDIA's CUDA repository for this release."""
        return f"debian{self.major}" if self.family == "debian" else f"ubuntu{self.major}04"


_CODENAMES = {
    ("debian", 12): "bookworm",
    ("debian", 13): "trixie",
    ("ubuntu", 22): "jammy",
    ("ubuntu", 24): "noble",
}


def distro() -> Distro:
    """The current host's distribution; UnsupportedDistribution when not supported."""
    fact = host.get_fact(OsRelease)
    name = (fact.get("name") or "").lower()
    major = fact.get("major") or 0
    family: Family
    if name == "debian":
        family = "debian"
    elif name == "ubuntu":
        family = "ubuntu"
    else:
        raise UnsupportedDistribution(
            f"{host.name}: {name or 'unknown'} {major} (supported: {SUPPORTED})"
        )
    codename = _CODENAMES.get((family, major))
    if codename is None:
        raise UnsupportedDistribution(f"{host.name}: {family} {major} (supported: {SUPPORTED})")
    return Distro(family=family, major=major, codename=codename)

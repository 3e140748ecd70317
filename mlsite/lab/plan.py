"""What the lab builds: a pure plan of lab hosts, derived from a site description."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlsite.lab.errors import LabError

if TYPE_CHECKING:
    from mlsite.spec import SiteSpec

DEFAULT_DISK_SIZE_GIB = 10
"""Size of a lab disk (a sparse file, so it costs nothing until written) when the site omits it."""

DEBIAN_RELEASES = {12: "bookworm", 13: "trixie"}
"""Debian releases lab hosts can run (major version: suite)."""
DEFAULT_DEBIAN = 12

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class LabDisk:
    """An extra block device of a lab host: a loop device over a sparse file."""

    id: str
    """Where the disk appears inside the host: a /dev path, or a name under /dev/disk/by-id."""
    size_gib: int = DEFAULT_DISK_SIZE_GIB

    @property
    def path(self) -> str:
        """The absolute path of the disk inside the host (a symlink to the bound loop device)."""
        return self.id if self.id.startswith("/dev/") else f"/dev/disk/by-id/{self.id}"

    @property
    def slug(self) -> str:
        """A file-name-safe form of the id."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.path.removeprefix("/dev/"))


@dataclass(frozen=True)
class LabHost:
    """One lab host: a systemd-nspawn machine with its own network namespace."""

    name: str
    address: ipaddress.IPv4Address
    ssh_user: str = "root"
    ssh_port: int = 22
    disks: tuple[LabDisk, ...] = ()

    @property
    def slug(self) -> str:
        """Short name for kernel objects (interface names are at most 15 characters)."""
        if len(self.name) <= 10:
            return self.name
        digest = hashlib.sha256(self.name.encode()).hexdigest()
        return f"{self.name[:5]}{digest[:5]}"

    @property
    def netns(self) -> str:
        """The host's network namespace, as `ip netns` names it."""
        return f"mls-{self.slug}"

    @property
    def veth(self) -> str:
        """The bridge side of the host's veth pair (the host side is eth0 in its namespace)."""
        return f"mls-{self.slug}"

    @property
    def mac(self) -> str:
        """A fixed, locally administered MAC, so a restarted host is reachable at once."""
        digest = hashlib.sha256(self.name.encode()).digest()
        return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


@dataclass(frozen=True)
class LabPlan:
    """The whole lab: one bridge on the management network and the hosts on it."""

    network: ipaddress.IPv4Network
    hosts: tuple[LabHost, ...]
    gateway: ipaddress.IPv4Address = field(default=ipaddress.IPv4Address("0.0.0.0"))
    site: str = "lab"
    debian: int = DEFAULT_DEBIAN
    """The Debian release every lab host boots (a key of DEBIAN_RELEASES)."""

    @property
    def suite(self) -> str:
        """The Debian suite of the hosts' release."""
        return DEBIAN_RELEASES[self.debian]

    def __post_init__(self) -> None:
        if self.gateway == ipaddress.IPv4Address("0.0.0.0"):
            object.__setattr__(self, "gateway", next(self.network.hosts()))
        problems = validate_plan(self)
        if problems:
            raise LabError("; ".join(problems))

    def host(self, name: str) -> LabHost:
        """The lab host called `name`, or a LabError listing the known hosts."""
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts) or "none"
        raise LabError(f"no lab host named {name!r} (lab hosts: {known})")


def validate_plan(plan: LabPlan) -> list[str]:
    """Every problem with a plan, as messages (empty when the plan is usable)."""
    problems: list[str] = []
    if plan.debian not in DEBIAN_RELEASES:
        known = ", ".join(f"{n} ({name})" for n, name in DEBIAN_RELEASES.items())
        problems.append(f"lab hosts run Debian {known}, not Debian {plan.debian}")
    if plan.gateway not in plan.network:
        problems.append(f"lab gateway {plan.gateway} is outside {plan.network}")
    seen_names: set[str] = set()
    seen_addrs: set[ipaddress.IPv4Address] = {plan.gateway}
    seen_slugs: set[str] = set()
    for host in plan.hosts:
        if not _NAME_RE.match(host.name):
            problems.append(f"lab host name {host.name!r} must be a lowercase DNS label")
        if host.name in seen_names:
            problems.append(f"lab host {host.name!r} appears twice")
        if host.slug in seen_slugs:
            problems.append(f"lab host {host.name!r} collides with another host's short name")
        if host.address not in plan.network or host.address in (
            plan.network.network_address,
            plan.network.broadcast_address,
        ):
            problems.append(
                f"lab host {host.name} address {host.address} is not usable in {plan.network}"
            )
        elif host.address in seen_addrs:
            problems.append(f"lab host {host.name} address {host.address} is already taken")
        paths = [d.path for d in host.disks]
        if len(set(paths)) != len(paths):
            problems.append(f"lab host {host.name} has two disks with the same id")
        for disk in host.disks:
            if disk.size_gib <= 0:
                problems.append(f"lab host {host.name} disk {disk.id}: size_gib must be positive")
        seen_names.add(host.name)
        seen_slugs.add(host.slug)
        seen_addrs.add(host.address)
    return problems


def plan_lab(site: SiteSpec, *, debian: int = DEFAULT_DEBIAN) -> LabPlan:
    """The lab for a site: every host of the site, which must all be marked `lab: true`,
    booting Debian ``debian`` (12 or 13).

    Disks used for Ceph OSDs or unused become loop devices; the OS disk is the host's rootfs.
    """
    not_lab = [h.name for h in site.hosts if not h.lab]
    if not_lab:
        raise LabError(
            f"site {site.site.name!r}: hosts not marked `lab: true` cannot run in the lab: "
            + ", ".join(not_lab)
        )
    network = site.site.networks.management
    hosts = tuple(
        LabHost(
            name=h.name,
            address=h.address,
            ssh_user=h.ssh.user,
            ssh_port=h.ssh.port,
            disks=tuple(
                LabDisk(id=d.id, size_gib=d.size_gib or DEFAULT_DISK_SIZE_GIB)
                for d in h.disks
                if d.use in ("ceph-osd", "none")
            ),
        )
        for h in site.hosts
    )
    return LabPlan(network=network, hosts=hosts, site=site.site.name, debian=debian)

"""Physical (or lab) hosts: addresses, roles, disks, network links, GPUs, BMCs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlsite.spec.base import IpAddress, Model, Name, PositiveInt, Secret


class Role(StrEnum):
    """What a host does for the site. A host may have several roles."""

    CEPH_MON = "ceph-mon"
    CEPH_MGR = "ceph-mgr"
    CEPH_OSD = "ceph-osd"
    CEPH_MDS = "ceph-mds"
    NFS = "nfs"
    NFS_WITNESS = "nfs-witness"
    """Casts the third vote of the NFS HA pair (corosync-qnetd): one host, not an NFS node."""
    REGISTRY = "registry"
    K8S_CONTROL_PLANE = "k8s-control-plane"
    K8S_WORKER = "k8s-worker"
    GATEWAY = "gateway"
    BUILD = "build"
    DB = "db"


DiskId = Annotated[
    str,
    StringConstraints(pattern=r"^/dev/disk/by-(id|path|partuuid)/[^/\s]+$"),
]
"""A stable device path under /dev/disk/by-id (or by-path), never /dev/sdX."""

InterfaceName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_.-]{1,15}$")]
Mtu = Annotated[int, Field(ge=576, le=9216)]


class SshAccess(Model):
    """How mlsite reaches the host over SSH."""

    user: str = "root"
    """Login user. Default: root (a sudo-capable user also works)."""
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    """SSH port. Default: 22."""
    key: str | None = None
    """Path of the private key file, relative to the stack file or absolute. Default: the
    keys of the running SSH agent (lab hosts use the lab's generated key)."""


class Disk(Model):
    """A block device and what it is for."""

    id: DiskId
    """Stable path of the device, e.g. /dev/disk/by-id/ata-Samsung_SSD_860_S3Z9NB0K123456A.
    Required: mlsite never addresses disks by /dev/sdX, whose names move between boots."""
    use: Literal["os", "ceph-osd", "none"]
    """``os`` (left alone), ``ceph-osd`` (becomes a Ceph OSD), ``none`` (left alone).
    Required, so that no disk's fate is implicit."""
    wipe: Literal["never", "allowed"] = "never"
    """``allowed`` lets mlsite destroy partitions and filesystems found on this disk before
    turning it into an OSD. Default: never; a disk holding data is refused and left as is."""
    size_gib: PositiveInt | None = None
    """Size in GiB. Default: whatever the device is; lab hosts get a sparse disk of 10 GiB."""
    device_class: Literal["ssd", "hdd", "nvme"] | None = None
    """Ceph device class. Default: detected by Ceph from the device."""
    decommission: bool = False
    """``true`` (Ceph OSD disks only): drain this disk's OSD and remove it from the cluster.
    Ceph moves its data to the other OSDs first; the OSD is stopped and purged only once
    Ceph says it is safe to destroy. Afterwards the disk can leave the description. A disk
    simply left out of the description is never touched: its OSD keeps running and every
    apply reports it. Default: false."""


class Nic(Model):
    """A physical network port."""

    name: InterfaceName
    """Kernel name of the port (e.g. enp3s0f0)."""
    mac: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")] | None = None
    """MAC address (lower case). Default: not pinned; the kernel name is trusted."""
    mtu: Mtu = 1500
    """MTU of the port. Default: 1500."""


class Vlan(Model):
    """A tagged VLAN on a bond or port."""

    id: Annotated[int, Field(ge=1, le=4094)]
    """VLAN id, 1 to 4094."""
    address: IpAddress | None = None
    """Address on the VLAN interface. Default: the VLAN carries no host address."""
    prefix: Annotated[int, Field(ge=8, le=32)] = 24
    """Prefix length of ``address``. Default: 24."""
    mtu: Mtu | None = None
    """MTU. Default: the MTU of the parent link."""


BondMode = Literal[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
]


class Bond(Model):
    """Several ports bonded into one link."""

    name: InterfaceName = "bond0"
    """Name of the bond interface. Default: bond0."""
    interfaces: Annotated[tuple[InterfaceName, ...], Field(min_length=1)]
    """Ports in the bond; each must be one of the host's ``nics``."""
    mode: BondMode = "balance-alb"
    """Bonding mode. Default: balance-alb (adaptive load balancing; needs no switch support)."""
    mtu: Mtu = 1500
    """MTU of the bond. Default: 1500."""
    vlans: tuple[Vlan, ...] = ()
    """Tagged VLANs on the bond. Default: none."""


class Gpu(Model):
    """GPUs of one model in a host."""

    model: str
    """Model name as nvidia-smi prints it, e.g. "NVIDIA GeForce GTX 1080"."""
    count: Annotated[int, Field(ge=1, le=16)]
    """How many of this model the host has."""
    memory_gib: PositiveInt | None = None
    """Memory of one GPU in GiB. Default: unknown (used only for scheduling labels)."""


class Bmc(Model):
    """The host's management controller, used to fence (power off) the host."""

    driver: Literal["ipmi", "redfish", "lab"]
    """``ipmi`` (fence_ipmilan), ``redfish`` (fence_redfish) or ``lab`` (the lab's fence
    agent; lab hosts only)."""
    address: IpAddress | str | None = None
    """BMC address. Required for ipmi and redfish; lab BMCs need none."""
    username: str | None = None
    """BMC user. Required for ipmi and redfish."""
    password: Secret | None = None
    """BMC password (a secret). Required for ipmi and redfish."""


class Host(Model):
    """One machine of the site."""

    name: Name
    """Host name (a DNS label, unique in the site)."""
    address: IpAddress
    """Management address; must lie inside ``site.networks.management``."""
    storage_address: IpAddress | None = None
    """Address on the storage network. Default: storage traffic uses the management address."""
    roles: tuple[Role, ...] = ()
    """What the host does. Default: nothing beyond the base layer."""
    ssh: SshAccess = SshAccess()
    """SSH access. Default: root on port 22 with the agent's keys."""
    disks: tuple[Disk, ...] = ()
    """Block devices mlsite should know about. Default: none (no disk is touched)."""
    nics: tuple[Nic, ...] = ()
    """Physical ports. Default: none declared; the network layer leaves links alone."""
    bonds: tuple[Bond, ...] = ()
    """Bonds over ``nics``. Default: none."""
    management_interface: InterfaceName | None = None
    """Interface that carries ``address``. Default: the first bond, else the first NIC."""
    gpus: tuple[Gpu, ...] = ()
    """GPUs. Default: none; the GPU layer is skipped."""
    bmc: Bmc | None = None
    """Management controller for fencing. Default: none (the host cannot serve HA NFS)."""
    lab: bool = False
    """True for a lab host (a systemd-nspawn machine started by `mlsite lab up`).
    Default: false, a real machine."""

    @property
    def gpu_count(self) -> int:
        """Total GPUs in the host."""
        return sum(g.count for g in self.gpus)

    def has(self, role: Role) -> bool:
        """Whether the host has ``role``."""
        return role in self.roles

"""NFS homes on an RBD image: an active/passive pair under pacemaker, or a single server.

``ha``: corosync and pacemaker on both nodes (quorum from a witness host's corosync-qnetd
when the site has one, else corosync's two_node mode with a fencing delay); one group in the
recommended order — the RBD image as a block device (``rbd map`` on real hosts, rbd-fuse + a
loop device on lab hosts: one systemd unit, ``mlsite-nfs-rbd``, whose script chooses), its
file system, nfs-ganesha with the export, then the floating IP — and one fence device per
node from its BMC (fence_ipmilan, fence_redfish, or fence_mlsite_lab in the lab). The CIB is
rendered here, checked with ``crm_verify --xml-file`` on the node and only then applied.
HA without a fence device for every node is refused before any operation.

``single``: the same image, file system and export on one host, started by systemd.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.deploys.nfs_ha import render
from mlsite.hosts.deploys.registry import ApplySecret
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, Role, SiteSpec
from mlsite.storage import rbd_device

CONF_DIR = "/etc/mlsite/nfs-ha"


RBD_UNIT = "mlsite-nfs-rbd"


MOUNT = "/srv/mlsite-nfs"


AUTHKEY = "/etc/corosync/authkey"


AGENTS = {"ipmi": "fence_ipmilan", "redfish": "fence_redfish", "lab": "fence_mlsite_lab"}


class NfsRefused(ValueError):
    """The NFS description cannot be applied safely (nothing was changed)."""


class Node(DeployParams):
    """An NFS node."""

    name: str
    address: str


class Fence(DeployParams):
    """The fence device of one node (its BMC)."""

    node: str
    driver: Literal["ipmi", "redfish", "lab"]
    address: str | None = None
    username: str | None = None
    password: ApplySecret | None = None
    delay_s: int = Field(default=0, ge=0, le=120)


class Params(DeployParams):
    """Parameters of the nfs_ha role."""

    mode: Literal["ha", "single"] = "ha"
    nodes: tuple[Node, ...] = Field(min_length=1, max_length=2)
    floating_ip: str | None = None
    prefix: int = Field(default=24, ge=8, le=32)
    ceph_cluster: str = "ceph"
    pool: str = "rbd"
    image: str = "home"
    image_size_gib: int = Field(ge=1)
    export_path: str = "/home"
    clients: str
    access: Literal["rw", "ro"] = "rw"
    squash: Literal["root_squash", "no_root_squash", "all_squash"] = "root_squash"
    fencing: tuple[Fence, ...] = ()
    """One device per node; required for ``ha``."""
    rbd_mode: rbd_device.RbdMode = "krbd"
    cluster_name: str = "mlsite-nfs"
    witness: Node | None = None
    """The host casting the pair's third vote (corosync-qnetd), if the site has one. With
    it the survivor of a crash is quorate and fences at once; without it the pair runs
    corosync's two_node quorum and the first node's fence device waits ``delay_s``."""
    token_ms: int = Field(default=1000, ge=300, le=10000)
    """corosync's token timeout: how long a silent node goes unnoticed (consensus adds 20 %)."""

    @model_validator(mode="after")
    def _ha_needs_fencing(self) -> Self:
        refusal = ha_refusal(self)
        if refusal:
            raise ValueError(refusal)
        return self


def ha_refusal(params: Params) -> str | None:
    """Why ``params`` must not be applied, or None."""
    if params.mode != "ha":
        return None
    if len(params.nodes) != 2 or params.floating_ip is None:
        return "NFS mode ha needs two nodes and a floating IP"
    fenced = {f.node for f in params.fencing}
    missing = [n.name for n in params.nodes if n.name not in fenced]
    if missing:
        return (
            f"refusing NFS HA without fencing for {', '.join(missing)}: two nodes that both "
            "believe they are active corrupt the file system; give each node a bmc"
        )
    return None


def is_nfs_host(h: Host) -> bool:
    """Hosts with role nfs, and the pair's witness."""
    return h.has(Role.NFS) or h.has(Role.NFS_WITNESS)


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The nfs_ha parameters (pure); refuses HA without fencing."""
    nfs = site.storage.nfs
    if nfs is None:
        raise NfsRefused("storage.nfs is not configured")
    nodes = tuple(site.host(n) for n in nfs.nodes)
    witness = next(iter(site.hosts_with(Role.NFS_WITNESS)), None) if nfs.mode == "ha" else None
    fencing: list[Fence] = []
    if nfs.mode == "ha":
        if nfs.fencing is None:
            raise NfsRefused("refusing NFS HA without fencing (storage.nfs.fencing is null)")
        for i, h in enumerate(nodes):
            if h.bmc is None:
                raise NfsRefused(f"refusing NFS HA: host {h.name} has no bmc to fence it with")
            fencing.append(
                Fence(
                    node=h.name,
                    driver=h.bmc.driver,
                    address=str(h.bmc.address) if h.bmc.address is not None else None,
                    username=h.bmc.username,
                    password=h.bmc.password,
                    # with a witness only a quorate side fences: no race to break
                    delay_s=nfs.fencing.delay_s if i == 0 and witness is None else 0,
                )
            )
    mgmt = site.site.networks.management
    return Params(
        mode=nfs.mode,
        nodes=tuple(Node(name=h.name, address=str(h.address)) for h in nodes),
        floating_ip=str(nfs.floating_ip) if nfs.floating_ip else None,
        prefix=mgmt.prefixlen,
        ceph_cluster=site.storage.ceph.cluster_name if site.storage.ceph else "ceph",
        pool=nfs.pool,
        image=nfs.image,
        image_size_gib=nfs.image_size_gib,
        export_path=nfs.export.path,
        clients=str(nfs.export.clients or mgmt),
        access=nfs.export.access,
        squash=nfs.export.squash,
        fencing=tuple(fencing),
        rbd_mode=rbd_device.mode_for(all(h.lab for h in nodes)),
        witness=Node(name=witness.name, address=str(witness.address)) if witness else None,
    )


def fence_device(f: Fence) -> render.FenceDevice:
    """The pacemaker fence device of one node."""
    if f.driver == "lab":
        attrs: tuple[tuple[str, str], ...] = (("plug", f.node),)
    else:
        attrs = (
            ("ip", f.address or ""),
            ("username", f.username or ""),
            ("password", f.password.reveal() if f.password else ""),
        )
        attrs = (
            (*attrs, ("lanplus", "1")) if f.driver == "ipmi" else (*attrs, ("ssl_insecure", "1"))
        )
    return render.FenceDevice(
        node=f.node, agent=AGENTS[f.driver], attributes=attrs, delay_s=f.delay_s
    )


def cib_configuration(params: Params) -> tuple[str, str]:
    """(configuration section, whole CIB) as XML text."""
    conf = render.configuration(
        rbd_unit=RBD_UNIT,
        device=f"/dev/rbd/{params.pool}/{params.image}",
        mount=MOUNT,
        floating_ip=str(params.floating_ip),
        prefix=params.prefix,
        fencing=tuple(fence_device(f) for f in params.fencing),
    )
    return render.configuration_xml(conf), render.cib_xml(conf)


DEPLOY = Deploy(
    name="nfs_ha",
    params_model=Params,
    params_for=params_for,
    applies_to=is_nfs_host,
    holds_data=True,
    component="NfsHa",
)

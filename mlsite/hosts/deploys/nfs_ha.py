"""NFS homes on an RBD image: an active/passive pair under pacemaker, or a single server.

``ha``: corosync (two_node, wait_for_all) and pacemaker on both nodes; one group in the
recommended order — the RBD image as a block device (``rbd map`` on real hosts, rbd-fuse + a
loop device on lab hosts: one systemd unit, ``mlsite-nfs-rbd``, whose script chooses), its
file system, nfs-ganesha with the export, then the floating IP — and one fence device per
node from its BMC (fence_ipmilan, fence_redfish, or fence_mlsite_lab in the lab). The CIB is
rendered here, checked with ``crm_verify --xml-file`` on the node and only then applied.
HA without a fence device for every node is refused before any operation.

``single``: the same image, file system and export on one host, started by systemd.
"""

from __future__ import annotations

import base64
import hashlib
import os
from io import BytesIO
from typing import Literal, Self

from gevent.lock import BoundedSemaphore
from pydantic import Field, model_validator
from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.files import Sha1File
from pyinfra.operations import apt, files, server, systemd

from mlsite.hosts import operations
from mlsite.hosts.deploys.ceph_facts import CephKeyring
from mlsite.hosts.deploys.common import put_text
from mlsite.hosts.deploys.personal_db import RbdImages
from mlsite.hosts.deploys.registry import ApplySecret
from mlsite.hosts.params import RoleParams
from mlsite.hosts.render import pacemaker as render
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, Role, SiteSpec
from mlsite.storage import rbd_device

CONF_DIR = "/etc/mlsite/nfs-ha"
RBD_UNIT = "mlsite-nfs-rbd"
MOUNT = "/srv/mlsite-nfs"
AUTHKEY = "/etc/corosync/authkey"
AGENTS = {"ipmi": "fence_ipmilan", "redfish": "fence_redfish", "lab": "fence_mlsite_lab"}


class NfsRefused(ValueError):
    """The NFS description cannot be applied safely (nothing was changed)."""


class Node(RoleParams):
    """An NFS node."""

    name: str
    address: str


class Fence(RoleParams):
    """The fence device of one node (its BMC)."""

    node: str
    driver: Literal["ipmi", "redfish", "lab"]
    address: str | None = None
    username: str | None = None
    password: ApplySecret | None = None
    delay_s: int = Field(default=0, ge=0, le=120)


class Params(RoleParams):
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
    """Hosts with role nfs."""
    return h.has(Role.NFS)


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The nfs_ha parameters (pure); refuses HA without fencing."""
    nfs = site.storage.nfs
    if nfs is None:
        raise NfsRefused("storage.nfs is not configured")
    nodes = tuple(site.host(n) for n in nfs.nodes)
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
                    delay_s=nfs.fencing.delay_s if i == 0 else 0,
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


_AUTHKEY: dict[str, bytes] = {}
_ONCE = BoundedSemaphore()
"""Hosts are prepared in parallel greenlets: only one reads (or makes) the key."""


def corosync_key(params: Params) -> bytes:
    """The pair's corosync key: the first node's when it has one, else a new one (per run)."""
    first = params.nodes[0].name
    with _ONCE:
        return _corosync_key(params, first)


def _corosync_key(params: Params, first: str) -> bytes:
    if first not in _AUTHKEY:
        from pyinfra.context import state

        node = state.inventory.get_host(first, None)
        if node is None:
            raise NfsRefused(f"nfs_ha: the first node {first} must be among the hosts of the run")
        text = node.get_fact(CephKeyring, path=f"{AUTHKEY} | base64 -w0").strip()
        _AUTHKEY[first] = base64.b64decode(text) if text else os.urandom(256)
    return _AUTHKEY[first]


@deploy("nfs_ha")
def nfs_ha(params: Params) -> None:
    """Apply the current host's part of the NFS service."""
    refusal = ha_refusal(params)
    if refusal:
        raise NfsRefused(refusal)
    if host.name not in {n.name for n in params.nodes}:
        return
    fence_pkgs = ["fence-agents"] if any(f.driver != "lab" for f in params.fencing) else []
    # kmod (modprobe) and psmisc (fuser): the Filesystem agent refuses to run without them
    ha_pkgs = [
        "pacemaker",
        "corosync",
        "pacemaker-cli-utils",
        "resource-agents",
        "kmod",
        "psmisc",
        *fence_pkgs,
    ]
    apt.packages(
        name="Install the NFS server and its cluster stack",
        packages=[
            "nfs-ganesha",
            "nfs-ganesha-vfs",
            "ceph-common",
            "e2fsprogs",
            *(["rbd-fuse"] if params.rbd_mode == "fuse" else []),
            *(ha_pkgs if params.mode == "ha" else []),
        ],
        no_recommends=True,
        update=True,
        cache_time=86400,
    )
    spec = f"{params.pool}/{params.image}"
    put_text("Install mlsite-rbd-dev", rbd_device.PATH, rbd_device.script(), "755")
    unit = put_text(
        f"Install {RBD_UNIT}.service",
        f"/etc/systemd/system/{RBD_UNIT}.service",
        render.rbd_unit(params.rbd_mode, spec),
    )
    if unit.will_change:
        systemd.daemon_reload(name="Reload systemd units")
    export = put_text(
        "Configure the export",
        "/etc/ganesha/ganesha.conf",
        render.ganesha_conf(
            directory=MOUNT,
            pseudo=params.export_path,
            clients=params.clients,
            access=params.access,
            squash=params.squash,
        ),
    )
    if export.will_change:
        server.shell(
            name="Reload the export where it is served",
            commands=["systemctl try-reload-or-restart nfs-ganesha"],
        )
    if host.name == params.nodes[0].name and params.image not in host.get_fact(
        RbdImages, cluster=params.ceph_cluster, pool=params.pool
    ):
        server.shell(
            name=f"Create the image {spec} with an ext4 file system (once)",
            commands=[
                f"rbd --cluster {params.ceph_cluster} create --size {params.image_size_gib}G {spec}",
                f"mkfs.ext4 -q -E nodiscard -L home $({rbd_device.PATH} {params.rbd_mode} map {spec})",
                f"{rbd_device.PATH} {params.rbd_mode} unmap {spec}",
            ],
        )
    if params.mode == "ha":
        _pacemaker(params)
    else:
        _single(params, spec)


def _single(params: Params, spec: str) -> None:
    put_text(
        "Mount the image before nfs-ganesha",
        "/etc/systemd/system/nfs-ganesha.service.d/50-mlsite.conf",
        "[Unit]\nRequires=mlsite-nfs-rbd.service\nAfter=mlsite-nfs-rbd.service\n[Service]\n"
        f"ExecStartPre=/bin/sh -c 'mkdir -p {MOUNT} && (mountpoint -q {MOUNT} || "
        f"mount -o noatime /dev/rbd/{spec} {MOUNT})'\n",
    )
    operations.service(
        name="Serve the export",
        service="nfs-ganesha",
        running=True,
        enabled=True,
        daemon_reload=True,
    )


def _pacemaker(params: Params) -> None:
    files.put(
        name="Install the corosync key",
        src=BytesIO(corosync_key(params)),
        dest=AUTHKEY,
        mode="400",
        user="root",
        group="root",
    )
    conf = put_text(
        "Configure corosync (two_node, wait_for_all)",
        "/etc/corosync/corosync.conf",
        render.corosync_conf(params.cluster_name, tuple((n.name, n.address) for n in params.nodes)),
    )
    configuration, cib = cib_configuration(params)
    applied = f"{CONF_DIR}/configuration.xml"
    wanted_sha1 = hashlib.sha1(configuration.encode()).hexdigest()
    first_time = host.get_fact(Sha1File, path=applied) is None
    if first_time:
        # pacemaker starts and stops the NFS server from now on
        operations.service(
            name="Leave nfs-ganesha to pacemaker",
            service="nfs-ganesha",
            running=False,
            enabled=False,
        )
    operations.service(
        name="Run corosync",
        service="corosync",
        running=True,
        enabled=True,
        restarted=conf.will_change,
    )
    operations.service(name="Run pacemaker", service="pacemaker", running=True, enabled=True)
    if host.name != params.nodes[0].name:
        return
    if host.get_fact(Sha1File, path=applied) != wanted_sha1:
        put_text("Stage the CIB", f"{CONF_DIR}/cib.staged.xml", cib, "600")
        put_text(
            "Stage the configuration section",
            f"{CONF_DIR}/configuration.staged.xml",
            configuration,
            "600",
        )
        server.shell(
            name="Check the CIB with crm_verify, then apply it",
            commands=[
                f"crm_verify --xml-file {CONF_DIR}/cib.staged.xml",
                # a DC is elected (`crmadmin -D -q` spins forever in pacemaker 2.1.5)
                "timeout 180 sh -c 'until crm_mon -1 --output-as=xml 2>/dev/null | "
                'grep -q "<current_dc present=.true."; do sleep 1; done\'',
                # and every node is online before fencing is configured: a peer whose
                # pacemaker is still starting would otherwise be fenced at startup (it
                # then stops itself as "allegedly just fenced" and stays down); a peer
                # that never comes is fenced once the wait is over, as it should be
                f"timeout 120 sh -c 'until [ \"$(crm_mon -1 --output-as=xml 2>/dev/null | "
                f'grep -c "<node name=.* online=.true.")" -ge {len(params.nodes)} ]; '
                "do sleep 1; done' || true",
                f"cibadmin --replace --scope configuration --xml-file {CONF_DIR}/configuration.staged.xml",
                f"install -m 600 {CONF_DIR}/configuration.staged.xml {applied}",
            ],
        )


ROLE = RoleDeploy(
    name="nfs_ha", deploy=nfs_ha, params_model=Params, params_for=params_for, applies_to=is_nfs_host
)

if "__name__" not in globals():  # run as a deploy file
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("nfs_ha")

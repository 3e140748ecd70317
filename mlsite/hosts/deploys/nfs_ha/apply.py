"""The pyinfra half of the ``nfs_ha`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.nfs_ha``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from io import BytesIO

from gevent.lock import BoundedSemaphore
from pyinfra.api.deploy import deploy
from pyinfra.context import host, state
from pyinfra.facts.files import Sha1File
from pyinfra.operations import apt, files, server, systemd

from mlsite.hosts import operations
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.ceph.facts import CephKeyring
from mlsite.hosts.deploys.nfs_ha import (
    AUTHKEY,
    CONF_DIR,
    MOUNT,
    RBD_UNIT,
    NfsRefused,
    Params,
    cib_configuration,
    ha_refusal,
    render,
)
from mlsite.hosts.deploys.personal_db.apply import RbdImages
from mlsite.storage import rbd_device

_ONCE = BoundedSemaphore()
"""Hosts are prepared in parallel greenlets: only one reads (or makes) the key."""


def corosync_key(params: Params) -> bytes:
    """The pair's corosync key: the first node's when it has one, else a new one (per run)."""
    first = params.nodes[0].name
    with _ONCE:
        return _corosync_key(params, first)


_AUTHKEY: dict[str, bytes] = {}


def _corosync_key(params: Params, first: str) -> bytes:
    if first not in _AUTHKEY:
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
    if params.witness is not None and host.name == params.witness.name:
        _witness()
        return
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
        *(["corosync-qdevice"] if params.witness else []),
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


def _witness() -> None:
    """The pair's third vote: corosync-qnetd, listening on TCP 5403."""
    apt.packages(
        name="Install the quorum device server",
        packages=["corosync-qnetd"],
        no_recommends=True,
        update=True,
        cache_time=86400,
    )
    operations.service(
        name="Run the quorum device server", service="corosync-qnetd", running=True, enabled=True
    )


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
        "Configure corosync",
        "/etc/corosync/corosync.conf",
        render.corosync_conf(
            params.cluster_name,
            tuple((n.name, n.address) for n in params.nodes),
            token_ms=params.token_ms,
            witness=params.witness.address if params.witness else None,
        ),
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
    operations.service(name="Run corosync", service="corosync", running=True, enabled=True)
    if conf.will_change:
        # a running pair takes what corosync can change at runtime (token, quorum device) in
        # place: restarting corosync under pacemaker would drop the node from the cluster, on
        # both nodes at once stopping the service. What a reload refuses (the package's own
        # first configuration replaced by the pair's: nodes, transport, crypto) restarts it.
        server.shell(
            name="Reload corosync's configuration",
            commands=["corosync-cfgtool -R || systemctl restart corosync"],
        )
    if params.witness is not None:
        operations.service(
            name="Run the quorum device client",
            service="corosync-qdevice",
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


if "__name__" not in globals():  # run as a deploy file
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.nfs_ha import DEPLOY

    run_deploy_file(DEPLOY)

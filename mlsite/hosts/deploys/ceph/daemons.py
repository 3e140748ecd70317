"""The Ceph daemons of one host: monitor, manager, OSDs, metadata server.

Each daemon is created once (guarded by a file its creation leaves behind, read as a fact
before anything runs), then kept enabled and running: a second apply changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyinfra.context import host
from pyinfra.facts.files import File
from pyinfra.operations import server, systemd

from mlsite.hosts import operations
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.ceph import render
from mlsite.hosts.deploys.ceph.facts import OsdOnDisk
from mlsite.hosts.deploys.ceph.keys import ClusterKeys, mon_keyring_path
from mlsite.hosts.deploys.disks import DiskConf, DiskRefused
from mlsite.hosts.deploys.disks.apply import check
from mlsite.hosts.facts import DiskProbe
from mlsite.versions import pin

if TYPE_CHECKING:
    from mlsite.hosts.deploys.ceph import Osd, Params

OSD_DROPIN = "/etc/systemd/system/ceph-osd@.service.d/50-mlsite.conf"


def wait_for_cluster(cluster: str, timeout_s: int = 180) -> str:
    """A shell command that waits until the monitors answer (quorum formed)."""
    return (
        f"timeout {timeout_s} sh -c 'until ceph --cluster {cluster} --connect-timeout 5 "
        "health >/dev/null 2>&1; do sleep 1; done'"
    )


def _exists(path: str) -> bool:
    return bool(host.get_fact(File, path=path))


def monitor(params: Params, keys: ClusterKeys) -> None:
    """Create this host's monitor with the cluster's monmap and keys, and run it."""
    if host.name not in {m.name for m in params.mons}:
        return
    c, name = params.cluster, host.name
    put_text("Install the mon keyring", mon_keyring_path(c), keys.mon_keyring(), "600")
    data = f"/var/lib/ceph/mon/{c}-{name}"
    if not _exists(f"{data}/done"):
        addv = " ".join(
            f"--addv {m.name} [v2:{m.address}:3300,v1:{m.address}:6789]" for m in params.mons
        )
        monmap = f"/tmp/mlsite-{c}.monmap"
        server.shell(
            name=f"Create monitor mon.{name} (once)",
            commands=[
                f"monmaptool --create --clobber --fsid {params.fsid} {addv} --enable-all-features "
                f"--set-min-mon-release {pin('ceph', 'release')} {monmap}",
                f"install -d -o ceph -g ceph {data}",
                f"ceph-mon --cluster {c} --mkfs -i {name} --monmap {monmap} "
                f"--keyring {mon_keyring_path(c)}",
                f"chown -R ceph:ceph {data}",
                f"touch {data}/done",
                f"rm -f {monmap}",
            ],
        )
    operations.service(
        name=f"Run mon.{name}", service=f"ceph-mon@{name}", running=True, enabled=True
    )


def _keyed_daemon(params: Params, kind: str, caps: str) -> None:
    c, name = params.cluster, host.name
    data = f"/var/lib/ceph/{kind}/{c}-{name}"
    if not _exists(f"{data}/keyring"):
        server.shell(
            name=f"Create {kind}.{name} and its key (once)",
            commands=[
                f"install -d -o ceph -g ceph {data}",
                wait_for_cluster(c),
                f"ceph --cluster {c} auth get-or-create {kind}.{name} {caps} -o {data}/keyring",
                f"chown ceph:ceph {data}/keyring",
            ],
        )
    operations.service(
        name=f"Run {kind}.{name}", service=f"ceph-{kind}@{name}", running=True, enabled=True
    )


def manager(params: Params) -> None:
    """Create and run this host's manager."""
    if host.name in params.mgrs:
        _keyed_daemon(params, "mgr", "mon 'allow profile mgr' osd 'allow *' mds 'allow *'")


def metadata_server(params: Params) -> None:
    """Create and run this host's CephFS metadata server."""
    if host.name in params.mdss:
        _keyed_daemon(
            params, "mds", "mon 'profile mds' mgr 'profile mds' mds 'allow *' osd 'allow *'"
        )


def osds(params: Params, keys: ClusterKeys) -> None:
    """Create this host's OSDs (BlueStore on the whole disk) and run them.

    A disk holding anything (partitions, file systems, another OSD) is refused unless the site
    allows wiping it; the refusal comes before any operation, so nothing changes."""
    mine = [o for o in params.osds if o.host == host.name]
    if not mine:
        return
    c = params.cluster
    put_text(
        "Install the bootstrap-osd keyring",
        f"/var/lib/ceph/bootstrap-osd/{c}.keyring",
        keys.bootstrap_osd_keyring(),
        "600",
    )
    dropin = put_text("Own OSD block devices before start", OSD_DROPIN, render.osd_unit_dropin())
    if dropin.will_change:
        systemd.daemon_reload(name="Reload systemd units")
    todo = [o for o in mine if not _exists(f"/var/lib/ceph/osd/{c}-{o.osd_id}/whoami")]
    wipes: dict[int, list[str]] = {}
    problems: list[str] = []
    for osd in todo:
        contents = host.get_fact(DiskProbe, path=osd.device)
        ours = host.get_fact(OsdOnDisk, path=osd.device) == osd.uuid
        problem = check(DiskConf(id=osd.device, use="ceph-osd", wipe=osd.wipe), contents)
        if problem is not None and not ours:
            problems.append(problem)
        elif not contents.empty and contents.device is not None:
            wipes[osd.osd_id] = [
                *(f"wipefs --all --force /dev/{p}" for p in contents.partitions),
                f"wipefs --all --force {contents.device}",
                f"dd if=/dev/zero of={contents.device} bs=1M count=10 conv=fsync status=none",
            ]
    if problems:
        raise DiskRefused(f"{host.name}: " + "; ".join(problems))
    for osd in todo:
        _create_osd(params, osd, wipes.get(osd.osd_id, []))
    for osd in mine:
        operations.service(
            name=f"Run osd.{osd.osd_id}",
            service=f"ceph-osd@{osd.osd_id}",
            running=True,
            enabled=True,
        )


def _create_osd(params: Params, osd: Osd, wipe: list[str]) -> None:
    c, i = params.cluster, osd.osd_id
    data = f"/var/lib/ceph/osd/{c}-{i}"
    bootstrap = f"-n client.bootstrap-osd -k /var/lib/ceph/bootstrap-osd/{c}.keyring"
    device_class = (
        [
            f"ceph --cluster {c} osd crush rm-device-class osd.{i} || true",
            f"ceph --cluster {c} osd crush set-device-class {osd.device_class} osd.{i}",
        ]
        if osd.device_class
        else []
    )
    server.shell(
        name=f"Create osd.{i} on {osd.device} (BlueStore, once)",
        commands=[
            *wipe,
            wait_for_cluster(c),
            f"install -d -o ceph -g ceph {data}",
            f"s=$(ceph-authtool --gen-print-key) && "
            f'printf \'{{"cephx_secret": "%s"}}\' "$s" | '
            f"ceph --cluster {c} osd new {osd.uuid} {i} -i - {bootstrap} >/dev/null && "
            f'ceph-authtool --create-keyring {data}/keyring --name osd.{i} --add-key "$s" >/dev/null',
            f"ln -sfn {osd.device} {data}/block",
            f"echo bluestore > {data}/type",
            f'chown -R ceph:ceph {data} && chown ceph:ceph "$(readlink -f {osd.device})"',
            f"ceph-osd --cluster {c} -i {i} --mkfs --osd-uuid {osd.uuid} "
            "--setuser ceph --setgroup ceph",
            *device_class,
        ],
    )

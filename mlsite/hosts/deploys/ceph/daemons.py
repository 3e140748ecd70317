"""The Ceph daemons of one host: monitor, manager, OSDs, metadata server.

Each daemon is created once (guarded by a file its creation leaves behind, read as a fact
before anything runs), then kept enabled and running: a second apply changes nothing.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from pyinfra.context import host
from pyinfra.facts.files import File
from pyinfra.operations import server, systemd

from mlsite.hosts import notices, operations
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.ceph import render
from mlsite.hosts.deploys.ceph.facts import LocalOsds, OsdOnDisk
from mlsite.hosts.deploys.ceph.keys import ClusterKeys, mon_keyring_path
from mlsite.hosts.deploys.disks import DiskConf, DiskRefused
from mlsite.hosts.deploys.disks.apply import check
from mlsite.hosts.facts import DiskProbe
from mlsite.versions import pin

if TYPE_CHECKING:
    from mlsite.hosts.deploys.ceph import Osd, Params

FIND_UUID = shlex.quote(
    "import json, sys; "
    'print(*[o["osd"] for o in json.load(sys.stdin)["osds"] if o["uuid"] == sys.argv[1]])'
)
"""Prints the id of the OSD with uuid argv[1] in ``ceph osd dump -f json`` (none: nothing)."""
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
    """Create this host's described OSDs (BlueStore on the whole disk) and run them; drain
    and purge those marked ``decommission``; leave any other OSD of the host running and
    report it.

    OSDs are matched by uuid (made from the host and the disk), the id is whatever the
    cluster gave at creation: describing or removing another disk never moves an id. A disk
    holding anything (partitions, file systems, another OSD) is refused unless the site
    allows wiping it; the refusal comes before any operation, so nothing changes."""
    mine = [o for o in params.osds if o.host == host.name]
    # read on every host of the cluster: one that no longer has any OSD described may still
    # run one, and it is reported like any other
    local = host.get_fact(LocalOsds, cluster=params.cluster)
    described = {o.uuid for o in mine}
    for found_uuid, found in sorted(local.items(), key=lambda kv: int(kv[1]["id"])):
        if found_uuid not in described:
            notices.notice(
                f"osd.{found['id']} on {found['device'] or 'an unknown device'} is no longer "
                "described: it keeps running with its data, untouched. To remove it, describe "
                "its disk again with `decommission: true` and apply"
            )
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
    todo = [o for o in mine if o.uuid not in local and not o.decommission]
    wipes: dict[str, list[str]] = {}
    problems: list[str] = []
    for osd in todo:
        contents = host.get_fact(DiskProbe, path=osd.device)
        ours = host.get_fact(OsdOnDisk, path=osd.device) == osd.uuid
        problem = check(DiskConf(id=osd.device, use="ceph-osd", wipe=osd.wipe), contents)
        if problem is not None and not ours:
            problems.append(problem)
        elif not contents.empty and contents.device is not None:
            wipes[osd.uuid] = [
                *(f"wipefs --all --force /dev/{p}" for p in contents.partitions),
                f"wipefs --all --force {contents.device}",
                f"dd if=/dev/zero of={contents.device} bs=1M count=10 conv=fsync status=none",
            ]
    if problems:
        raise DiskRefused(f"{host.name}: " + "; ".join(problems))
    for osd in todo:
        _create_osd(params, osd, wipes.get(osd.uuid, []))
    for osd in mine:
        have = local.get(osd.uuid)
        if have is None:
            continue
        if osd.decommission:
            _decommission(params, osd, int(have["id"]))
        else:
            operations.service(
                name=f"Run osd.{have['id']}",
                service=f"ceph-osd@{have['id']}",
                running=True,
                enabled=True,
            )


def _create_osd(params: Params, osd: Osd, wipe: list[str]) -> None:
    """Create the OSD: the cluster gives its id (the lowest free one), its directory keeps
    it. A half-made OSD of this uuid (registered, never started) is purged first; Ceph's
    ``purge-new`` refuses one that ever ran."""
    c = params.cluster
    ceph = f"ceph --cluster {c}"
    bootstrap = f"-n client.bootstrap-osd -k /var/lib/ceph/bootstrap-osd/{c}.keyring"
    data = f"/var/lib/ceph/osd/{c}-$i"
    device_class = (
        [
            f"{{ {ceph} osd crush rm-device-class osd.$i || true; }}",
            f"{ceph} osd crush set-device-class {osd.device_class} osd.$i",
        ]
        if osd.device_class
        else []
    )
    server.shell(
        name=f"Create the OSD on {osd.device} (BlueStore, once)",
        commands=[
            " && ".join(
                [
                    *wipe,
                    wait_for_cluster(c),
                    f"old=$({ceph} osd dump -f json | python3 -c {FIND_UUID} {osd.uuid})",
                    f'{{ [ -z "$old" ] || {ceph} osd purge-new "$old" --yes-i-really-mean-it; }}',
                    "s=$(ceph-authtool --gen-print-key)",
                    f'i=$(printf \'{{"cephx_secret": "%s"}}\' "$s" | '
                    f"{ceph} osd new {osd.uuid} -i - {bootstrap})",
                    f"install -d -o ceph -g ceph {data}",
                    f'ceph-authtool --create-keyring {data}/keyring --name "osd.$i" '
                    '--add-key "$s" >/dev/null',
                    f"ln -sfn {osd.device} {data}/block",
                    f"echo bluestore > {data}/type",
                    f"chown -R ceph:ceph {data}",
                    f'chown ceph:ceph "$(readlink -f {osd.device})"',
                    f'ceph-osd --cluster {c} -i "$i" --mkfs --osd-uuid {osd.uuid} '
                    "--setuser ceph --setgroup ceph",
                    *device_class,
                    'systemctl enable --now "ceph-osd@$i"',
                ]
            )
        ],
    )


def _decommission(params: Params, osd: Osd, osd_id: int) -> None:
    """Drain osd.``osd_id`` and remove it, each step guarded by Ceph itself: marked out, its
    data moves to the other OSDs; only when ``safe-to-destroy`` agrees (no placement group
    would lose a copy) and ``ok-to-stop`` agrees is it stopped and purged. An apply that
    waits ``drain_wait_s`` without Ceph agreeing fails and says so: draining goes on, and
    the next apply resumes. The disk is left as it is."""
    c, i, wait = params.cluster, osd_id, params.drain_wait_s
    ceph = f"ceph --cluster {c}"
    data = f"/var/lib/ceph/osd/{c}-{i}"
    not_yet = (
        f"osd.{i} on {osd.device} is still draining after {wait} s: Ceph does not yet find it "
        "safe to destroy (some placement groups have no other complete copy). Draining goes "
        "on; apply again to finish"
    )
    server.shell(
        name=f"Decommission osd.{i} on {osd.device} (drain, then purge)",
        commands=[
            wait_for_cluster(c),
            f"if {ceph} osd ls | grep -qx {i}; then "
            f"{ceph} osd out {i} && "
            f"{{ timeout {wait} sh -c 'until {ceph} osd safe-to-destroy {i} >/dev/null 2>&1; "
            f"do sleep 2; done' || {{ echo '{not_yet}' >&2; exit 1; }}; }} && "
            f"{ceph} osd ok-to-stop {i} && "
            f"systemctl disable --now ceph-osd@{i} && "
            f"{ceph} osd down {i} && "
            f"timeout 60 sh -c 'until {ceph} osd purge {i} --yes-i-really-mean-it; "
            "do sleep 1; done'; fi",
            f"systemctl disable ceph-osd@{i} 2>/dev/null || true",
            f"rm -rf {data}",
        ],
    )

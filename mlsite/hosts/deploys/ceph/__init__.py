"""A Ceph cluster from the distribution's packages: MONs, MGRs, OSDs, MDSs, pools, CephFS.

No cephadm (it pulls container images a closed site may not reach) and no LVM: each OSD is
made by ``ceph-osd --mkfs`` with BlueStore directly on the whole disk the site marks
``use: ceph-osd`` (what ``ceph-volume raw`` does underneath), the OSD's directory on the root
file system. The same path serves real disks and lab loop devices.

Keys: the first monitor (``bootstrap``) keeps the cluster's keys in its mon keyring. Every run
reads them from there (a fact) and installs them on every host; a new cluster gets fresh keys.
The cluster-wide steps (CRUSH rules, pools, ratios, CephFS) run on the bootstrap host only and
only for what the cluster does not already have, so a second apply changes nothing.
"""

from __future__ import annotations

import math
import uuid
from typing import Any, Literal

from pydantic import Field

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, Role, SiteSpec
from mlsite.spec import storage as spec

CEPH_ROLES = (Role.CEPH_MON, Role.CEPH_MGR, Role.CEPH_OSD, Role.CEPH_MDS)


class Mon(DeployParams):
    """A monitor."""

    name: str
    address: str


class Osd(DeployParams):
    """An OSD on a host's disk, known by its disk (and the uuid made from it), never by a
    number: the cluster gives an OSD its id when it is created, and the host's OSD directory
    keeps it, so describing or removing another disk never moves an id."""

    host: str
    device: str
    """Stable path of the whole disk."""
    uuid: str
    """The OSD's uuid, derived from the cluster, the host and the disk."""
    wipe: Literal["never", "allowed"] = "never"
    """``allowed``: signatures found on the disk are wiped first; ``never``: such a disk is
    refused and nothing on it changes."""
    device_class: str | None = None
    decommission: bool = False
    """Drain the OSD (out, wait until Ceph says it is safe to destroy), then stop and purge
    it. The disk itself is left as it is."""


class Pool(DeployParams):
    """A pool as it must be."""

    name: str
    application: Literal["rbd", "cephfs", "rgw"]
    size: int = Field(ge=1, le=10)
    min_size: int = Field(ge=1, le=10)
    rule: str
    pg_autoscale: Literal["on", "warn", "off"] = "on"
    pg_num: int = Field(ge=1)
    quota_bytes: int = Field(default=0, ge=0)


class CephFs(DeployParams):
    """The CephFS file system."""

    name: str
    metadata_pool: str
    data_pool: str


CEPH_RELEASES = {16: "pacific", 17: "quincy", 18: "reef", 19: "squid"}
"""Ceph's major versions and their release names."""


def release_of(version: str) -> str | None:
    """The Ceph release of a Debian package version (``16.2.11+ds-2`` -> ``pacific``;
    an epoch is ignored); None when it is not one of ``CEPH_RELEASES``."""
    upstream = version.partition(":")[2] if ":" in version else version
    major = upstream.split(".", 1)[0]
    return CEPH_RELEASES.get(int(major)) if major.isdigit() else None


class Params(DeployParams):
    """Parameters of the ceph role on the cluster's hosts."""

    cluster: str = "ceph"
    release: Literal["pacific", "quincy", "reef", "squid"] | None = None
    """The Ceph release the description asks for (``storage.ceph.release``): a host whose
    package sources offer another is refused before anything is installed. None: the
    distribution's, whichever it is."""
    """Cluster name (config file /etc/ceph/<cluster>.conf)."""
    fsid: str
    mons: tuple[Mon, ...] = Field(min_length=1)
    """Monitors (an odd count); the first is the bootstrap host."""
    mgrs: tuple[str, ...] = Field(min_length=1)
    mdss: tuple[str, ...] = ()
    osds: tuple[Osd, ...] = ()
    pools: tuple[Pool, ...] = ()
    failure_domain: Literal["host", "osd"] = "host"
    cephfs: CephFs | None = None
    public_network: str
    cluster_network: str
    nearfull_ratio: float = Field(default=0.75, gt=0, lt=1)
    backfillfull_ratio: float = Field(default=0.85, gt=0, lt=1)
    full_ratio: float = Field(default=0.92, gt=0, lt=1)
    mon_data_avail_warn_pct: int | None = Field(default=None, ge=1, le=100)
    """Warn when a monitor's disk has less free space than this. Default: Ceph's (30 %).
    Lab sites: 5, since lab monitors share this machine's disk with everything else."""
    failure_detection: Literal["ceph-default", "lab-fast"] = "ceph-default"
    """How fast a silent OSD is marked down. ``ceph-default``: Ceph's own (heartbeats every
    6 s, down after a 20 s grace that grows for laggy OSDs), which rides out a busy host
    without flapping. ``lab-fast`` (lab sites only): heartbeats every second, down after
    5 s, no grace scaling, so a crash drill waits seconds, not half a minute, for I/O to
    resume on the surviving OSDs."""
    mon_propose_interval_s: float | None = Field(default=None, gt=0, le=1)
    """How long the monitors gather map updates before committing them
    (``paxos_propose_interval``). Default: Ceph's (1 s). An RBD snapshot waits for one such
    commit (its id comes from the OSD map), up to this long: sites with personal databases,
    which snapshot the golden image for every copy, set 0.1 s."""
    client_hosts: tuple[str, ...] = ()
    """Hosts that only use the cluster (nfs, db roles): config and admin key, no daemon."""
    drain_wait_s: int = Field(default=1800, ge=10)
    """How long one apply waits for a decommissioned OSD's data to move before it stops
    (and says to apply again: draining goes on meanwhile)."""

    @property
    def bootstrap(self) -> str:
        """The host that bootstraps the cluster and runs cluster-wide commands."""
        return self.mons[0].name


PERSONAL_DB_PROPOSE_INTERVAL_S = 0.1
"""``Params.mon_propose_interval_s`` of sites with personal databases: a copy's snapshot
waits at most 0.1 s for the monitors instead of up to 1 s."""


def is_ceph_host(h: Host) -> bool:
    """Hosts of the ceph role: any Ceph daemon, or a user of RBD (nfs, db)."""
    return any(h.has(r) for r in (*CEPH_ROLES, Role.NFS, Role.DB))


def packages(params: Params, name: str) -> list[str]:
    """The distribution packages the host needs for its part of the cluster."""
    wanted = ["ceph-common", "ceph-base"]
    if name in {m.name for m in params.mons}:
        wanted.append("ceph-mon")
    if name in params.mgrs:
        wanted.append("ceph-mgr")
    if any(o.host == name for o in params.osds):
        wanted.append("ceph-osd")
    if name in params.mdss:
        wanted.append("ceph-mds")
    return wanted


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The ceph parameters of the site (pure); ``hosts`` only narrows the client hosts."""
    ceph = site.storage.ceph
    if ceph is None:
        raise ValueError("storage.ceph is not configured")
    public = str(ceph.public_network or site.site.networks.management)
    cluster = str(ceph.cluster_network or site.site.networks.storage or public)
    daemons = {h.name for h in site.hosts if any(h.has(r) for r in CEPH_ROLES)}
    return Params(
        cluster=ceph.cluster_name,
        release=ceph.release,
        fsid=fsid(site),
        mons=plan_mons(site),
        mgrs=tuple(h.name for h in site.hosts_with(Role.CEPH_MGR)),
        mdss=tuple(h.name for h in site.hosts_with(Role.CEPH_MDS)),
        osds=plan_osds(site),
        pools=plan_pools(site),
        failure_domain=ceph.failure_domain,
        cephfs=CephFs(**ceph.cephfs.model_dump()) if ceph.cephfs else None,
        public_network=public,
        cluster_network=cluster,
        nearfull_ratio=ceph.nearfull_ratio,
        backfillfull_ratio=ceph.backfillfull_ratio,
        full_ratio=ceph.full_ratio,
        mon_data_avail_warn_pct=5 if site.is_lab else None,
        failure_detection="lab-fast" if site.is_lab else "ceph-default",
        mon_propose_interval_s=PERSONAL_DB_PROPOSE_INTERVAL_S if site.databases.personal else None,
        client_hosts=tuple(h.name for h in hosts if h.name not in daemons and is_ceph_host(h)),
    )


FSID_NAMESPACE = uuid.UUID("6f1c8a52-3c1e-4c55-9a57-2f3c7e4f9b10")
"""Namespace of the deterministic fsid and OSD uuids (they are identifiers, not secrets)."""
MON_PORT_V2, MON_PORT_V1 = 3300, 6789
TARGET_PGS_PER_OSD = 100


def fsid(site: SiteSpec) -> str:
    """The cluster's fsid: fixed by the site and cluster name, so every run agrees."""
    ceph = _ceph(site)
    return str(uuid.uuid5(FSID_NAMESPACE, f"{site.site.name}/{ceph.cluster_name}"))


def _ceph(site: SiteSpec) -> spec.Ceph:
    if site.storage.ceph is None:
        raise ValueError("storage.ceph is not configured")
    return site.storage.ceph


def plan_mons(site: SiteSpec) -> tuple[Mon, ...]:
    """Every host with role ceph-mon, at its storage address if it has one."""
    mons = tuple(
        Mon(name=h.name, address=str(h.storage_address or h.address))
        for h in site.hosts_with(Role.CEPH_MON)
    )
    if len(mons) % 2 == 0:
        raise ValueError(f"the number of Ceph monitors must be odd (got {len(mons)})")
    return mons


def plan_osds(site: SiteSpec) -> tuple[Osd, ...]:
    """One OSD per disk with ``use: ceph-osd`` on hosts with role ceph-osd, known by its host
    and disk. Ids are the cluster's: given at creation, kept by the OSD's directory."""
    cluster = uuid.UUID(fsid(site))
    osds = tuple(
        Osd(
            host=h.name,
            device=disk.id,
            uuid=osd_uuid(cluster, h.name, disk.id),
            wipe=disk.wipe,
            device_class=disk.device_class,
            decommission=disk.decommission,
        )
        for h in site.hosts_with(Role.CEPH_OSD)
        for disk in h.disks
        if disk.use == "ceph-osd"
    )
    return osds_checked(osds)


def osd_uuid(cluster: uuid.UUID, host: str, device: str) -> str:
    """The uuid of the OSD on ``device`` of ``host``: the same for every run and release."""
    return str(uuid.uuid5(cluster, f"{host}/{device}"))


def osds_checked(osds: tuple[Osd, ...]) -> tuple[Osd, ...]:
    """``osds`` after checking (host, device) pairs are unique."""
    pairs = [(o.host, o.device) for o in osds]
    if len(set(pairs)) != len(pairs):
        raise ValueError("each (host, disk) pair must hold one OSD")
    return osds


def rule_name(failure_domain: str) -> str:
    """The CRUSH rule replicating across ``failure_domain`` (``replicated_host``)."""
    return f"replicated_{failure_domain}"


def failure_domains(site: SiteSpec) -> int:
    """How many failure domains the site has: OSD hosts, or OSDs."""
    ceph = _ceph(site)
    osds = plan_osds(site)
    live = [o for o in osds if not o.decommission]
    return len({o.host for o in live}) if ceph.failure_domain == "host" else len(live)


def initial_pg_num(pool: spec.Pool, osd_count: int, pool_count: int) -> int:
    """A power of two near ``100 * OSDs / size / pools`` (at least 8, at most 256)."""
    if osd_count <= 0:
        return 8
    wanted = TARGET_PGS_PER_OSD * osd_count / max(pool.size, 1) / max(pool_count, 1)
    exponent = round(math.log2(max(wanted, 1.0)))
    return int(min(256, max(8, 2**exponent)))


def plan_pools(site: SiteSpec) -> tuple[Pool, ...]:
    """Every pool of the site with its rule, initial PG count and quota."""
    ceph = _ceph(site)
    osd_count = len(plan_osds(site))
    return tuple(
        Pool(
            name=p.name,
            application=p.application,
            size=p.size,
            min_size=p.min_size,
            rule=rule_name(ceph.failure_domain),
            pg_autoscale=p.pg_autoscale,
            pg_num=initial_pg_num(p, osd_count, len(ceph.pools)),
            quota_bytes=(p.quota_gib or 0) * 1024**3,
        )
        for p in ceph.pools
    )


def rule_commands(failure_domains_wanted: set[str], rules: list[dict[str, Any]]) -> list[str]:
    """``ceph`` commands creating the replicated CRUSH rules that do not exist yet."""
    have = {str(r.get("rule_name")) for r in rules}
    return [
        f"ceph osd crush rule create-replicated {rule_name(d)} default {d}"
        for d in sorted(failure_domains_wanted)
        if rule_name(d) not in have
    ]


def pool_commands(
    pools: tuple[Pool, ...],
    osd_dump: dict[str, Any],
    rules: list[dict[str, Any]],
    fs_pools: frozenset[str] = frozenset(),
) -> list[str]:
    """The commands that bring the cluster's pools to ``pools`` (none when they already are).

    ``osd_dump`` is ``ceph osd dump -f json`` and ``rules`` ``ceph osd crush rule dump -f
    json`` (both empty when the cluster is new). Pools in ``fs_pools`` get their application
    from ``ceph fs new``."""
    existing = {str(p["pool_name"]): p for p in osd_dump.get("pools", [])}
    rule_names = {int(r["rule_id"]): str(r["rule_name"]) for r in rules}
    commands: list[str] = []
    for pool in pools:
        have = existing.get(pool.name)
        n = pool.name
        if have is None:
            commands.append(
                f"ceph osd pool create {n} {pool.pg_num} {pool.pg_num} replicated {pool.rule} "
                f"--autoscale-mode={pool.pg_autoscale}"
            )
            have = {}
        if have.get("size") != pool.size:
            commands.append(f"ceph osd pool set {n} size {pool.size} --yes-i-really-mean-it")
        if have.get("min_size") != pool.min_size:
            commands.append(f"ceph osd pool set {n} min_size {pool.min_size}")
        if have and rule_names.get(int(have.get("crush_rule", -1))) != pool.rule:
            commands.append(f"ceph osd pool set {n} crush_rule {pool.rule}")
        if have and have.get("pg_autoscale_mode") != pool.pg_autoscale:
            commands.append(f"ceph osd pool set {n} pg_autoscale_mode {pool.pg_autoscale}")
        if int(have.get("quota_max_bytes", 0)) != pool.quota_bytes:
            commands.append(f"ceph osd pool set-quota {n} max_bytes {pool.quota_bytes}")
        if pool.name not in fs_pools and pool.application not in have.get(
            "application_metadata", {}
        ):
            commands.append(f"ceph osd pool application enable {n} {pool.application}")
            if pool.application == "rbd":
                commands.append(f"rbd pool init {n}")
    return commands


def ratio_commands(
    nearfull: float, backfillfull: float, full: float, osd_dump: dict[str, Any]
) -> list[str]:
    """Commands setting the nearfull, backfillfull and full ratios where they differ."""
    wanted = (
        ("nearfull_ratio", "set-nearfull-ratio", nearfull),
        ("backfillfull_ratio", "set-backfillfull-ratio", backfillfull),
        ("full_ratio", "set-full-ratio", full),
    )
    return [
        f"ceph osd {command} {value}"
        for key, command, value in wanted
        if not math.isclose(float(osd_dump.get(key, -1.0)), value, abs_tol=1e-4)
    ]


def cephfs_commands(
    name: str, metadata_pool: str, data_pool: str, filesystems: list[dict[str, Any]]
) -> list[str]:
    """The command creating the CephFS file system when it does not exist yet."""
    if any(f.get("name") == name for f in filesystems):
        return []
    return [f"ceph fs new {name} {metadata_pool} {data_pool}"]


def config_commands(wanted: dict[tuple[str, str], str], config: list[dict[str, Any]]) -> list[str]:
    """``ceph config set`` commands for central settings (``(section, name) -> value``) that
    ``ceph config dump -f json`` does not show with that value."""
    have = {(str(c.get("section")), str(c.get("name"))): str(c.get("value")) for c in config}
    return [
        f"ceph config set {section} {name} {value}"
        for (section, name), value in sorted(wanted.items())
        if not same_setting(have.get((section, name)), value)
    ]


def same_setting(have: str | None, wanted: str) -> bool:
    """Whether a setting's value as the monitors show it is ``wanted`` (numbers by value:
    ``0.100000`` is ``0.1``)."""
    if have is None or have == wanted:
        return have == wanted
    try:
        return float(have) == float(wanted)
    except ValueError:
        return False


LAB_FAST_FAILURE_DETECTION = {
    ("global", "osd_heartbeat_interval"): "1",
    ("global", "osd_heartbeat_grace"): "5",
    ("mon", "mon_osd_adjust_heartbeat_grace"): "false",
    # a crashed client's watch on an RBD image (the NFS image's old holder) expires sooner
    ("osd", "osd_client_watch_timeout"): "10",
}
"""Lab sites only: a crashed host's OSDs are marked down within seconds (see
``Params.failure_detection``); real sites keep Ceph's defaults."""


def central_config(params: Params) -> dict[tuple[str, str], str]:
    """Settings kept in the monitors' central config (they apply without restarts)."""
    wanted = {("mon", "mon_allow_pool_delete"): "false"}
    if params.mon_data_avail_warn_pct is not None:
        wanted[("mon", "mon_data_avail_warn")] = str(params.mon_data_avail_warn_pct)
    if params.failure_detection == "lab-fast":
        wanted.update(LAB_FAST_FAILURE_DETECTION)
    if params.mon_propose_interval_s is not None:
        wanted[("mon", "paxos_propose_interval")] = f"{params.mon_propose_interval_s:g}"
    return wanted


CEPH_OWN_POOLS = frozenset({"device_health_metrics"})
"""Pools the managers make for themselves (Pacific; Quincy and later call it ``.mgr``)."""


def left_out(params: Params, observed: dict[str, object]) -> list[str]:
    """What the cluster holds that the description no longer has (pools, file systems),
    one sentence each: the deploy leaves them as they are and reports them. Ceph's own
    pools (``CEPH_OWN_POOLS``, names starting with a dot) are not the site's."""
    osd_dump = observed.get("osd")
    filesystems = observed.get("fs")
    described = {p.name for p in params.pools}
    found = [
        f"pool {name} is no longer described: it stays, with its data (the monitors refuse "
        "to delete pools: mon_allow_pool_delete is false)"
        for p in (osd_dump.get("pools", []) if isinstance(osd_dump, dict) else [])
        if not (name := str(p.get("pool_name", ""))).startswith(".")
        and name not in described | CEPH_OWN_POOLS
    ]
    fs_name = params.cephfs.name if params.cephfs else None
    found += [
        f"the CephFS {f.get('name')} is no longer described: it stays, with its files"
        for f in (filesystems if isinstance(filesystems, list) else [])
        if isinstance(f, dict) and f.get("name") != fs_name
    ]
    return found


def planned_commands(params: Params, observed: dict[str, object]) -> list[str]:
    """The ``ceph`` commands that bring the cluster to ``params`` (pure; none when it is)."""
    osd_dump = observed.get("osd")
    rules = observed.get("rules")
    filesystems = observed.get("fs")
    osd_dump = osd_dump if isinstance(osd_dump, dict) else {}
    rules = rules if isinstance(rules, list) else []
    filesystems = filesystems if isinstance(filesystems, list) else []
    config = observed.get("config")
    config = config if isinstance(config, list) else []
    pools = params.pools
    fs = params.cephfs
    fs_pools = frozenset({fs.metadata_pool, fs.data_pool}) if fs else frozenset()
    commands = [
        *config_commands(central_config(params), config),
        *rule_commands({p.rule.removeprefix("replicated_") for p in pools}, rules),
        *pool_commands(pools, osd_dump, rules, fs_pools),
        *ratio_commands(
            params.nearfull_ratio, params.backfillfull_ratio, params.full_ratio, osd_dump
        ),
    ]
    if fs is not None:
        commands += cephfs_commands(fs.name, fs.metadata_pool, fs.data_pool, filesystems)
    return [f"{c.replace('ceph ', f'ceph --cluster {params.cluster} ', 1)}" for c in commands]


DEPLOY = Deploy(
    name="ceph",
    params_model=Params,
    params_for=params_for,
    applies_to=is_ceph_host,
    holds_data=True,
    component="CephCluster",
)

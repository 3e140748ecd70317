"""Plans of a Ceph cluster from the site description: daemons, OSDs, CRUSH rules, pools.

Every function is pure. ``pool_commands`` compares the planned pools with what the cluster
reports (``ceph osd dump -f json``) and returns only the commands that change something, so a
second apply runs none.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from mlsite.spec import Role, SiteSpec
from mlsite.spec.storage import Ceph, Pool

FSID_NAMESPACE = uuid.UUID("6f1c8a52-3c1e-4c55-9a57-2f3c7e4f9b10")
"""Namespace of the deterministic fsid and OSD uuids (they are identifiers, not secrets)."""
MON_PORT_V2, MON_PORT_V1 = 3300, 6789
TARGET_PGS_PER_OSD = 100


@dataclass(frozen=True)
class MonPlan:
    """A monitor: its name (the host's) and address."""

    name: str
    address: str


@dataclass(frozen=True)
class OsdPlan:
    """One OSD: which host, which disk, its fixed id and uuid."""

    host: str
    osd_id: int
    device: str
    """Stable path of the disk (/dev/disk/by-id/...)."""
    uuid: str
    wipe: Literal["never", "allowed"]
    device_class: str | None


@dataclass(frozen=True)
class PoolPlan:
    """A pool as it must be in the cluster."""

    name: str
    application: str
    size: int
    min_size: int
    rule: str
    pg_autoscale: str
    pg_num: int
    """Initial PG count (the autoscaler takes over when on)."""
    quota_bytes: int
    """0: no quota."""


def fsid(site: SiteSpec) -> str:
    """The cluster's fsid: fixed by the site and cluster name, so every run agrees."""
    ceph = _ceph(site)
    return str(uuid.uuid5(FSID_NAMESPACE, f"{site.site.name}/{ceph.cluster_name}"))


def _ceph(site: SiteSpec) -> Ceph:
    if site.storage.ceph is None:
        raise ValueError("storage.ceph is not configured")
    return site.storage.ceph


def plan_mons(site: SiteSpec) -> tuple[MonPlan, ...]:
    """Every host with role ceph-mon, at its storage address if it has one."""
    mons = tuple(
        MonPlan(h.name, str(h.storage_address or h.address)) for h in site.hosts_with(Role.CEPH_MON)
    )
    if len(mons) % 2 == 0:
        raise ValueError(f"the number of Ceph monitors must be odd (got {len(mons)})")
    return mons


def plan_osds(site: SiteSpec) -> tuple[OsdPlan, ...]:
    """One OSD per disk with ``use: ceph-osd`` on hosts with role ceph-osd, numbered in
    description order (hosts, then their disks), so ids never move while disks are only added
    at the end."""
    cluster = uuid.UUID(fsid(site))
    osds: list[OsdPlan] = []
    for h in site.hosts_with(Role.CEPH_OSD):
        for disk in h.disks:
            if disk.use != "ceph-osd":
                continue
            osds.append(
                OsdPlan(
                    host=h.name,
                    osd_id=len(osds),
                    device=disk.id,
                    uuid=str(uuid.uuid5(cluster, f"{h.name}/{disk.id}")),
                    wipe=disk.wipe,
                    device_class=disk.device_class,
                )
            )
    return osds_checked(tuple(osds))


def osds_checked(osds: tuple[OsdPlan, ...]) -> tuple[OsdPlan, ...]:
    """``osds`` after checking ids and (host, device) pairs are unique."""
    ids = [o.osd_id for o in osds]
    pairs = [(o.host, o.device) for o in osds]
    if len(set(ids)) != len(ids) or len(set(pairs)) != len(pairs):
        raise ValueError("OSD ids and (host, disk) pairs must be unique")
    return osds


def rule_name(failure_domain: str) -> str:
    """The CRUSH rule replicating across ``failure_domain`` (``replicated_host``)."""
    return f"replicated_{failure_domain}"


def failure_domains(site: SiteSpec) -> int:
    """How many failure domains the site has: OSD hosts, or OSDs."""
    ceph = _ceph(site)
    osds = plan_osds(site)
    return len({o.host for o in osds}) if ceph.failure_domain == "host" else len(osds)


def initial_pg_num(pool: Pool, osd_count: int, pool_count: int) -> int:
    """A power of two near ``100 * OSDs / size / pools`` (at least 8, at most 256)."""
    if osd_count <= 0:
        return 8
    wanted = TARGET_PGS_PER_OSD * osd_count / max(pool.size, 1) / max(pool_count, 1)
    exponent = round(math.log2(max(wanted, 1.0)))
    return int(min(256, max(8, 2**exponent)))


def plan_pools(site: SiteSpec) -> tuple[PoolPlan, ...]:
    """Every pool of the site with its rule, initial PG count and quota."""
    ceph = _ceph(site)
    osd_count = len(plan_osds(site))
    return tuple(
        PoolPlan(
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
    pools: tuple[PoolPlan, ...],
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

"""Cluster-wide settings, applied from the bootstrap monitor: CRUSH rules, pools, ratios, CephFS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyinfra.context import host
from pyinfra.operations import server

from mlsite.hosts.deploys.ceph_daemons import wait_for_cluster
from mlsite.hosts.deploys.ceph_facts import CephState
from mlsite.storage import ceph_plan

if TYPE_CHECKING:
    from mlsite.hosts.deploys.ceph import Params


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
    pools = tuple(ceph_plan.PoolPlan(**p.model_dump()) for p in params.pools)
    fs = params.cephfs
    fs_pools = frozenset({fs.metadata_pool, fs.data_pool}) if fs else frozenset()
    commands = [
        *ceph_plan.config_commands(central_config(params), config),
        *ceph_plan.rule_commands({p.rule.removeprefix("replicated_") for p in pools}, rules),
        *ceph_plan.pool_commands(pools, osd_dump, rules, fs_pools),
        *ceph_plan.ratio_commands(
            params.nearfull_ratio, params.backfillfull_ratio, params.full_ratio, osd_dump
        ),
    ]
    if fs is not None:
        commands += ceph_plan.cephfs_commands(fs.name, fs.metadata_pool, fs.data_pool, filesystems)
    return [f"{c.replace('ceph ', f'ceph --cluster {params.cluster} ', 1)}" for c in commands]


def cluster_settings(params: Params) -> None:
    """Apply what the cluster lacks of the planned rules, pools, ratios and CephFS."""
    observed = host.get_fact(CephState, cluster=params.cluster)
    commands = planned_commands(params, observed)
    if commands:
        server.shell(
            name=f"Apply cluster settings ({len(commands)} changes)",
            commands=[wait_for_cluster(params.cluster), *commands],
        )

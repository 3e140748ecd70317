"""Pure renderers of Ceph's configuration files (tested without hosts)."""

from __future__ import annotations

from collections.abc import Iterable

HEADER = "# Managed by mlsite (hosts/deploys/ceph.py); local edits are overwritten.\n"


def mon_host(mons: Iterable[tuple[str, str]]) -> str:
    """``mon_host``: every monitor with its msgr2 and legacy address."""
    return ",".join(f"[v2:{addr}:3300,v1:{addr}:6789]" for _, addr in mons)


def ceph_conf(
    *,
    fsid: str,
    mons: tuple[tuple[str, str], ...],
    public_network: str,
    cluster_network: str,
    mon_data_avail_warn_pct: int | None = None,
) -> str:
    """/etc/ceph/<cluster>.conf: the same on every host of the cluster."""
    lines = [
        HEADER.rstrip("\n"),
        "[global]",
        f"fsid = {fsid}",
        f"mon_initial_members = {', '.join(name for name, _ in mons)}",
        f"mon_host = {mon_host(mons)}",
        f"public_network = {public_network}",
        f"cluster_network = {cluster_network}",
        "auth_cluster_required = cephx",
        "auth_service_required = cephx",
        "auth_client_required = cephx",
        "auth_allow_insecure_global_id_reclaim = false",
        "# A pool is deleted only on purpose: a reviewed change, not a slip of a command.",
        "mon_allow_pool_delete = false",
        "osd_pool_default_size = 3",
        "osd_pool_default_min_size = 2",
        "osd_crush_chooseleaf_type = 1",
    ]
    if mon_data_avail_warn_pct is not None:
        lines += ["", "[mon]", f"mon_data_avail_warn = {mon_data_avail_warn_pct}"]
    return "\n".join(lines) + "\n"


def osd_unit_dropin() -> str:
    """Drop-in for ceph-osd@.service: the OSD's block device belongs to ceph before it starts.

    ``ceph-volume`` does this at activation; we create OSDs with ``ceph-osd --mkfs`` on the
    whole device and do it here, for real disks and lab loop devices alike."""
    return (
        HEADER
        + "[Service]\n"
        + "ExecStartPre=+/bin/sh -c 'chown ceph:ceph \"$(readlink -f /var/lib/ceph/osd/ceph-%i/block)\"'\n"
    )

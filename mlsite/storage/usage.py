"""Cluster usage as people read it: raw use against the nearfull and full ratios, per pool
and per OSD, with a warning well before a full cluster stops every write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class Usage:
    """What ``mlsite storage status`` prints."""

    lines: tuple[str, ...]
    level: str
    """``ok``, ``nearfull`` (act now) or ``full`` (writes stopped)."""


def _bar(ratio: float, width: int = 20) -> str:
    filled = min(width, round(ratio * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def usage(
    df: dict[str, Any], osd_df: dict[str, Any], health: dict[str, Any], nearfull: float, full: float
) -> Usage:
    """A report from ``ceph df``, ``ceph osd df`` and ``ceph health`` (all ``-f json``)."""
    stats = df.get("stats", {})
    total = float(stats.get("total_bytes", 0)) or 1.0
    used = float(stats.get("total_used_raw_bytes", 0))
    ratio = used / total
    fullest = max(
        (float(n.get("utilization", 0)) / 100 for n in osd_df.get("nodes", [])), default=0.0
    )
    level = "full" if fullest >= full else "nearfull" if fullest >= nearfull else "ok"
    lines = [
        f"health: {health.get('status', 'unknown')}",
        f"raw: {used / GIB:.1f} / {total / GIB:.1f} GiB {_bar(ratio)} {ratio:.0%} "
        f"(nearfull {nearfull:.0%}, full {full:.0%})",
        f"fullest OSD: {fullest:.0%}",
    ]
    for pool in df.get("pools", []):
        s = pool.get("stats", {})
        lines.append(
            f"  pool {pool.get('name')}: {float(s.get('stored', 0)) / GIB:.1f} GiB stored, "
            f"{float(s.get('max_avail', 0)) / GIB:.1f} GiB available, "
            f"{float(s.get('percent_used', 0)):.0%} used"
        )
    if level == "nearfull":
        lines.append(
            f"WARNING: an OSD is above the nearfull ratio ({nearfull:.0%}); add disks or free "
            f"space now: at {full:.0%} Ceph stops every write"
        )
    elif level == "full":
        lines.append(f"ERROR: an OSD reached the full ratio ({full:.0%}): writes are stopped")
    return Usage(tuple(lines), level)

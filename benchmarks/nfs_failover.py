"""Drill: NFS homes survive a power cut of the active node; failover time recorded.

Run by the lab test tests/storage/test_zz_nfs_ha_drill_lab.py (which brings the lab up and
applies ceph and nfs_ha), or standalone on that already-running test lab:
    flock /tmp/mlsite-lab.lock python benchmarks/nfs_failover.py --running-lab
Writes from this machine through the floating IP with libnfs-utils (``nfs-cp``, NFSv3), crashes
the active node (link down + every process killed), waits until the export answers again,
then reads back every write acknowledged before and during the crash. Writes
benchmarks/results/nfs_failover.json and .md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' lab helpers

UID = 2001
NFS_TIMEOUT_S = 5
SERVE_TIMEOUT_S = 180


def url(ip: str, name: str) -> str:
    """nfs-cp URL of a file in alice's directory of the export, as uid 2001."""
    return f"nfs://{ip}/home/alice/{name}?uid={UID}&gid={UID}"


def nfs_put(ip: str, name: str, data: bytes) -> bool:
    """Write ``data`` through NFS; True when the server acknowledged it (nfs-cp exit 0)."""
    with tempfile.NamedTemporaryFile() as src:
        src.write(data)
        src.flush()
        proc = subprocess.run(
            ["timeout", str(NFS_TIMEOUT_S), "nfs-cp", src.name, url(ip, name)],
            capture_output=True,
            check=False,
        )
    LAST_ERROR[:] = [proc.stderr.decode(errors="replace").strip()[-500:]]
    return proc.returncode == 0


LAST_ERROR: list[str] = []
"""What the last failed nfs-cp said (for test messages)."""


def nfs_ls(ip: str) -> bool:
    """Whether the export answers a listing of its root."""
    proc = subprocess.run(
        ["timeout", str(NFS_TIMEOUT_S), "nfs-ls", f"nfs://{ip}/home"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def nfs_get(ip: str, name: str) -> bytes | None:
    """Read a file back through NFS (None when it cannot be read)."""
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "f"
        proc = subprocess.run(
            ["timeout", str(NFS_TIMEOUT_S * 4), "nfs-cp", url(ip, name), str(dest)],
            capture_output=True,
            check=False,
        )
        return dest.read_bytes() if proc.returncode == 0 and dest.exists() else None


class Writer(threading.Thread):
    """Writes small files one after another; remembers every acknowledged one."""

    def __init__(self, ip: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.ip = ip
        self.run_id = run_id
        self.acked: dict[str, str] = {}
        self.failed = 0
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            data = os.urandom(64 * 1024)
            name = f"w-{self.run_id}-{i:05d}.bin"
            if nfs_put(self.ip, name, data):
                self.acked[name] = hashlib.sha256(data).hexdigest()
            else:
                self.failed += 1
                time.sleep(0.2)
            i += 1


def _first(lines: list[tuple[float, str]], pattern: str, since: float) -> float | None:
    """Seconds after ``since`` of the first line matching ``pattern``."""
    found = re.compile(pattern)
    return next(
        (round(t - since, 2) for t, text in lines if t >= since and found.search(text)), None
    )


def timeline(lab: Any, survivor: str, active: str, crashed_wall: float) -> dict[str, float | None]:
    """When each step of the failover happened, in seconds after the crash: the crashed host's
    OSD marked down (cluster log), the fence, each resource of the group started (the
    survivor's journal). The lab's hosts share this machine's clock."""
    journal = lab.run(
        survivor,
        f"journalctl -o short-unix --no-pager --since @{int(crashed_wall) - 1}",
        check=False,
    ).stdout
    lines = []
    for line in journal.splitlines():
        stamp, _, text = line.partition(" ")
        try:
            lines.append((float(stamp), text))
        except ValueError:
            continue
    log = json.loads(
        lab.run(survivor, "ceph log last 500 info cluster -f json", check=False).stdout or "[]"
    )
    cluster = [
        (dt.datetime.fromisoformat(str(e["stamp"])).timestamp(), str(e.get("message", "")))
        for e in log
        if isinstance(e, dict) and "stamp" in e
    ]
    steps: dict[str, float | None] = {
        "osd_marked_down_s": _first(cluster, r"osds? down|osd\.\d+ .*failed", crashed_wall),
        "fenced_s": _first(
            lines,
            rf"(Peer {active} was terminated .*OK|Operation '?\w+'? .*targeting {active}.*OK)",
            crashed_wall,
        ),
    }
    # where the seconds before the fence go: corosync noticing the silent node, the monitors
    # forming a quorum without it (the crashed node also ran a monitor)
    steps["membership_changed_s"] = _first(
        lines, r"Members left|A new membership .* was formed|Sync left", crashed_wall
    )
    steps["mon_quorum_without_it_s"] = _first(
        cluster, r"new leader|mons? .* in quorum", crashed_wall
    )
    ganesha = lab.run(
        survivor, "grep -h 'IN GRACE' /var/log/ganesha/ganesha.log | tail -n 4", check=False
    ).stdout
    graced = []
    for line in ganesha.splitlines():
        try:
            stamp = dt.datetime.strptime(line[:19], "%d/%m/%Y %H:%M:%S")
        except ValueError:
            continue
        graced.append((stamp.replace(tzinfo=dt.UTC).timestamp(), line))
    steps["nfs_grace_ended_s"] = _first(graced, r"NOT IN GRACE", crashed_wall - 1)
    if os.environ.get("MLSITE_DRILL_JOURNAL"):  # the survivor's cluster stack, line by line
        wanted = re.compile(r"corosync|pacemaker-controld|stonith|qdevice|ganesha|GRACE", re.I)
        for t, text in lines:
            if t >= crashed_wall and t < crashed_wall + 30 and wanted.search(text):
                print(f"{t - crashed_wall:6.2f} {text[:220]}")
    steps["home-rbd_start_requested_s"] = _first(
        lines, r"(Requesting|Initiating) .*start operation .*home-rbd", crashed_wall
    )
    steps["rbd_locks_broken_s"] = _first(lines, r"mlsite-rbd-dev: broke lock", crashed_wall)
    for resource in ("home-rbd", "home-fs", "home-nfs", "home-ip"):
        steps[f"{resource}_started_s"] = _first(
            lines, rf"Result of start operation for {resource} on {survivor}: ok", crashed_wall
        )
    return steps


def drill(lab: Any, ip: str) -> dict[str, Any]:
    """Crash the active NFS node and measure; ``lab`` is a tests.conftest.LabSession."""
    located = lab.run("lab-2", "crm_resource --locate --resource home-ip").stdout
    match = re.search(r"running on: (\S+)", located)
    assert match, located
    active = match.group(1)
    survivor = "lab-2" if active == "lab-1" else "lab-1"
    run_id = f"{int(time.time())}"
    lab.run(active, f"install -d -o {UID} -g {UID} /srv/mlsite-nfs/alice")
    before = os.urandom(1_000_000)
    assert nfs_put(ip, f"before-{run_id}.bin", before), "cannot write through the floating IP"
    writer = Writer(ip, run_id)
    writer.start()
    time.sleep(2)
    acked_before_crash = len(writer.acked)
    crashed_at, crashed_wall = time.monotonic(), time.time()
    lab.lab.crash(active)
    served_s = None
    while time.monotonic() - crashed_at < SERVE_TIMEOUT_S:
        probe = f"probe-{run_id}-{time.monotonic_ns()}.txt"
        if nfs_put(ip, probe, b"probe") and nfs_get(ip, probe) == b"probe":
            served_s = time.monotonic() - crashed_at
            break
        time.sleep(0.2)
    time.sleep(2)
    writer.stop.set()
    writer.join(timeout=30)
    assert served_s is not None, f"export not served again {SERVE_TIMEOUT_S} s after the crash"
    lost = [
        n
        for n, digest in writer.acked.items()
        if (data := nfs_get(ip, n)) is None or hashlib.sha256(data).hexdigest() != digest
    ]
    before_ok = nfs_get(ip, f"before-{run_id}.bin") == before
    history = lab.run(survivor, f"stonith_admin --history {active}", check=False).stdout
    where = lab.run(survivor, "crm_resource --locate --resource home-ip").stdout.strip()
    return {
        "active": active,
        "survivor": survivor,
        "failover_s": round(served_s, 2),
        "timeline": timeline(lab, survivor, active, crashed_wall),
        "fenced": "successful" in history or "Off" in history or "off" in history,
        "fence_history": history.strip(),
        "ip_now": where,
        "before_crash_file_intact": before_ok,
        "acknowledged_writes": len(writer.acked),
        "acknowledged_before_crash": acked_before_crash,
        "unacknowledged_attempts": writer.failed,
        "acknowledged_lost": lost,
    }


def write(result: dict[str, Any], results: Path = RESULTS) -> None:
    """Write nfs_failover.json and .md into ``results`` (default: the recorded results)."""
    result = {**result, "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    results.mkdir(exist_ok=True)
    (results / "nfs_failover.json").write_text(json.dumps(result, indent=2) + "\n")
    (results / "nfs_failover.md").write_text(
        "\n".join(
            [
                "# NFS HA failover drill (lab)",
                "",
                f"Measured {result['measured']}: two lab hosts (systemd-nspawn) under corosync +",
                "pacemaker, export on an RBD image (rbd-fuse + loop device, ext4), nfs-ganesha,",
                "fence agent fence_mlsite_lab, a third host's corosync-qnetd as the pair's witness",
                "(corosync token 1000 ms; no fencing delay). A writer on this machine wrote 64 KiB files through",
                "the floating IP with `nfs-cp` while the active node was crashed (`lab.crash`:",
                "link down, every process killed). Lab sites mark a silent OSD down after 5 s",
                "(heartbeats every 1 s; real sites keep Ceph's 6 s / 20 s): the crashed host",
                "also ran a Ceph OSD and monitor, and I/O to its placement groups waits for that.",
                "",
                "| | |",
                "|---|---|",
                f"| crashed (active) node | {result['active']} |",
                f"| export served again after | **{result['failover_s']} s** |",
                f"| survivor fenced the crashed node | {result['fenced']} |",
                f"| acknowledged writes (before crash) | {result['acknowledged_writes']} ({result['acknowledged_before_crash']}) |",
                f"| acknowledged writes lost | {len(result['acknowledged_lost'])} |",
                *(
                    f"| {step.removesuffix('_s').replace('_', ' ')} | {t} s after the crash |"
                    for step, t in result.get("timeline", {}).items()
                ),
                f"| file written before the crash intact | {result['before_crash_file_intact']} |",
                "",
            ]
        )
    )

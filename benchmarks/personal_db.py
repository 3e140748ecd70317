"""Benchmark: a personal copy of a >= 1 GB golden Postgres database, clone vs dump/restore.

Run as root from the project root, with no lab up:
    flock /tmp/mlsite-lab.lock python benchmarks/personal_db.py [--scales 70,210]
(``--running-lab`` measures on the test lab that is already up, with Ceph and personal_db
applied). Brings the lab stack's hosts up (OSD disks and the golden image enlarged to hold
the largest database twice), applies the ceph and personal_db roles, and for each pgbench
scale (70: about 1.1 GB) fills the golden database, then in the same run times
``mlsite-db clone`` (quiesce, snapshot, clone, Postgres started; with the tool's own
breakdown) against ``pg_dump -Fc | pg_restore`` of the same database on the same host.
Writes benchmarks/results/personal_db.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' lab helpers
DB_SET, USER, HOST = "analytics", "alice", "lab-1"
GOLDEN_PORT = 15432
PGBENCH_SCALE = 70
MIN_BYTES = 10**9
STEPS = (
    "checkpoint",
    "connect",
    "freeze_snapshot_thaw",
    "protect",
    "clone",
    "depth",
    "postgres_start",
)
"""The clone's steps as ``mlsite-db clone`` reports them (``<step>_s``)."""

Run = Callable[[str], str]
"""Run a shell command on the db host; its stdout (raises on failure)."""


def psql(port: int, sql: str, db: str = "bench") -> str:
    """A psql command on the db host (as postgres, through the local socket)."""
    return (
        f'cd /tmp && runuser -u postgres -- psql -h /run/postgresql -p {port} -d {db} -Atqc "{sql}"'
    )


def fill_golden(run: Run, scale: int = PGBENCH_SCALE) -> int:
    """Make sure the golden copy holds a pgbench database of ``scale``; its size in bytes."""
    have = run(
        psql(GOLDEN_PORT, "select count(*) from pg_database where datname='bench'", "postgres")
    )
    if have.strip() == "1" and run(
        psql(GOLDEN_PORT, "select count(*) from pgbench_branches")
    ).strip() != str(scale):
        run(f"cd /tmp && runuser -u postgres -- dropdb -h /run/postgresql -p {GOLDEN_PORT} bench")
        have = "0"
    if have.strip() != "1":
        run(f"cd /tmp && runuser -u postgres -- createdb -h /run/postgresql -p {GOLDEN_PORT} bench")
        run(
            f"cd /tmp && runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -h /run/postgresql "
            f"-p {GOLDEN_PORT} -i -q -s {scale} bench"
        )
    run(psql(GOLDEN_PORT, "CHECKPOINT"))
    return int(run(psql(GOLDEN_PORT, "select pg_database_size('bench')")).strip())


def measure(run: Run, scale: int = PGBENCH_SCALE) -> dict[str, Any]:
    """Clone and dump/restore the same golden database; timings and checks."""
    size = fill_golden(run, scale)
    rows = int(run(psql(GOLDEN_PORT, "select count(*) from pgbench_accounts")).strip())
    run(f"/usr/local/sbin/mlsite-db {DB_SET} drop {USER} || true")
    started = time.monotonic()
    answer = json.loads(run(f"/usr/local/sbin/mlsite-db {DB_SET} clone {USER}"))
    port = int(answer["port"])
    run(psql(port, "select 1"))
    clone_s = time.monotonic() - started
    clone_rows = int(run(psql(port, "select count(*) from pgbench_accounts")).strip())
    run(f"/usr/local/sbin/mlsite-db {DB_SET} drop {USER}")

    run(
        f"cd /tmp && runuser -u postgres -- dropdb -h /run/postgresql -p {GOLDEN_PORT} --if-exists restored"
    )
    started = time.monotonic()
    run(
        f"cd /tmp && runuser -u postgres -- createdb -h /run/postgresql -p {GOLDEN_PORT} restored && "
        f"runuser -u postgres -- pg_dump -h /run/postgresql -p {GOLDEN_PORT} -Fc bench | "
        f"runuser -u postgres -- pg_restore -h /run/postgresql -p {GOLDEN_PORT} -d restored"
    )
    dump_s = time.monotonic() - started
    restored_rows = int(
        run(psql(GOLDEN_PORT, "select count(*) from pgbench_accounts", "restored")).strip()
    )
    run(f"cd /tmp && runuser -u postgres -- dropdb -h /run/postgresql -p {GOLDEN_PORT} restored")
    return {
        "pgbench_scale": scale,
        "database_bytes": size,
        "rows": rows,
        "clone": {
            "total_s": round(clone_s, 3),
            "snapshot_and_clone_s": answer["clone_s"],
            "ready_s": answer["ready_s"],
            "steps": answer.get("steps", {}),
            "rows": clone_rows,
            "depth": answer["depth"],
        },
        "dump_restore": {"total_s": round(dump_s, 3), "rows": restored_rows},
        "speedup": round(dump_s / clone_s, 1),
        "rows_match": rows == clone_rows == restored_rows,
    }


def bench_site(site: Any, scale: int) -> Any:
    """The lab site with OSD disks and golden image large enough for pgbench ``scale`` twice
    over (the golden database and the restored copy, three replicas each)."""
    data_gib = max(4, 2 * (scale * 16 // 1000) + 4)  # ~16 MB per pgbench scale unit
    hosts = tuple(
        h.model_copy(
            update={
                "disks": tuple(
                    d.model_copy(update={"size_gib": max(10, 2 * data_gib)}) for d in h.disks
                )
            }
        )
        for h in site.hosts
    )
    dbs = tuple(d.model_copy(update={"golden_size_gib": data_gib}) for d in site.databases.personal)
    return site.model_copy(
        update={"hosts": hosts, "databases": site.databases.model_copy(update={"personal": dbs})}
    )


def markdown(result: dict[str, Any]) -> str:
    """The result as a short Markdown report."""
    lines = [
        "# Personal database: clone vs dump/restore",
        "",
        f"Measured {result['measured']} on {result['machine']}: lab host {HOST} (systemd-nspawn),",
        "Ceph 16 with 3 OSDs on loop devices, the RBD image reached through rbd-fuse + a loop",
        "device (no krbd in this kernel). Golden database: pgbench data. Clone = `mlsite-db",
        "clone` (CHECKPOINT, fsfreeze, snapshot, protect, clone, Postgres started and",
        "recovered) until `select 1` answers on the copy, timed from this machine over SSH.",
        "",
        "| database | rows | clone s | `pg_dump -Fc \\| pg_restore` s | speedup |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['database_bytes'] / 1e9:.2f} GB (scale {r['pgbench_scale']}) | {r['rows']:,} "
            f"| {r['clone']['total_s']} | {r['dump_restore']['total_s']} | {r['speedup']}x |"
        )
    lines += [
        "",
        "Targets: clone <= 3 s, >= 100x faster than dump/restore. Row counts of the copy and of",
        "the restored database, taken after the timings, equal the golden database's: "
        + ", ".join(str(r["rows_match"]) for r in result["runs"])
        + ".",
        "",
        "Where the clone's time goes (the tool's own timings, on the db host):",
        "",
        "| database | " + " | ".join(STEPS) + " | ready |",
        "|---|" + "---:|" * (len(STEPS) + 1),
    ]
    for r in result["runs"]:
        steps = r["clone"]["steps"]
        lines.append(
            f"| {r['database_bytes'] / 1e9:.2f} GB | "
            + " | ".join(str(steps.get(f"{k}_s", "")) for k in STEPS)
            + f" | {r['clone']['ready_s']} |"
        )
    lines += ["", *result.get("notes", []), ""]
    return "\n".join(lines)


def write(result: dict[str, Any]) -> None:
    """Write results/personal_db.json and .md."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "personal_db.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "personal_db.md").write_text(markdown(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--running-lab", action="store_true", help="use the test lab already up")
    parser.add_argument(
        "--scales", default=f"{PGBENCH_SCALE},210", help="pgbench scales, comma-separated"
    )
    args = parser.parse_args()
    scales = [int(x) for x in args.scales.split(",")]
    from mlsite.lab import Lab
    from mlsite.spec import load_stack
    from tests.conftest import LabSession, lab_test_dirs
    from tests.storage.labrun import apply_role

    dirs = lab_test_dirs()
    lab = Lab(dirs)
    site = load_stack("lab").site
    if not args.running_lab:
        from mlsite.lab import plan_lab

        site = bench_site(site, max(scales))
        lab.down()
        lab.up(plan_lab(site))
    session = LabSession.of(lab)
    try:
        for role in ("ceph", "personal_db"):
            result = apply_role(session, role, site)
            if not result["ok"]:
                raise SystemExit(f"{role} failed: {result}")
        runs = [measure(lambda cmd: session.run(HOST, cmd, timeout=3600).stdout, s) for s in scales]
    finally:
        if not args.running_lab:
            lab.down()
    out: dict[str, Any] = {"runs": runs, "targets": {"clone_s_max": 3.0, "speedup_min": 100.0}}
    out["measured"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out["machine"] = f"{platform.node()} ({platform.machine()}, Python {platform.python_version()})"
    write(out)
    print(markdown(out))


if __name__ == "__main__":
    main()

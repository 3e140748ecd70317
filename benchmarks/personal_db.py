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
    "freeze",
    "snapshot",
    "thaw",
    "protect",
    "clone",
    "depth",
    "postgres_start",
    "select_1",
)
"""The clone's steps as ``mlsite-db clone`` reports them (``<step>_s``)."""

Run = Callable[[str], str]
"""Run a shell command on the db host; its stdout (raises on failure)."""


def psql(port: int, sql: str, db: str = "bench") -> str:
    """A psql command on the db host (as postgres, through the local socket)."""
    return (
        f'cd /tmp && runuser -u postgres -- psql -h /run/postgresql -p {port} -d {db} -Atqc "{sql}"'
    )


SECONDARY_INDEXES = (
    "create index if not exists pgbench_accounts_bid on pgbench_accounts (bid)",
    "create index if not exists pgbench_tellers_bid on pgbench_tellers (bid)",
)
"""Indexes a real schema keeps on its foreign keys (pgbench -i makes the primary keys and,
with --foreign-keys, the constraints): pg_restore rebuilds them all."""


def fill_golden(run: Run, scale: int = PGBENCH_SCALE) -> int:
    """Make sure the golden copy holds a pgbench database of ``scale`` with primary keys,
    foreign keys and secondary indexes; its size in bytes."""
    have = run(
        psql(GOLDEN_PORT, "select count(*) from pg_database where datname='bench'", "postgres")
    )
    if (
        have.strip() == "1"
        and run(
            psql(
                GOLDEN_PORT,
                "select (select count(*) from pgbench_branches)::text || ':' || "
                "(select count(*) > 0 from pg_constraint where contype = 'f')",
            )
        ).strip()
        != f"{scale}:true"
    ):
        run(f"cd /tmp && runuser -u postgres -- dropdb -h /run/postgresql -p {GOLDEN_PORT} bench")
        have = "0"
    if have.strip() != "1":
        run(f"cd /tmp && runuser -u postgres -- createdb -h /run/postgresql -p {GOLDEN_PORT} bench")
        run(
            f"cd /tmp && runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -h /run/postgresql "
            f"-p {GOLDEN_PORT} -i -q --foreign-keys -s {scale} bench"
        )
    for sql in SECONDARY_INDEXES:
        run(psql(GOLDEN_PORT, sql))
    run(psql(GOLDEN_PORT, "CHECKPOINT"))
    return int(run(psql(GOLDEN_PORT, "select pg_database_size('bench')")).strip())


def schema(run: Run, port: int, db: str) -> str:
    """The names of the pgbench tables' indexes and constraints, sorted."""
    return run(
        psql(
            port,
            "select string_agg(n, ',' order by n) from (select indexname as n from pg_indexes "
            "where tablename like 'pgbench%' union all select conname from pg_constraint "
            "where conrelid::regclass::text like 'pgbench%') x",
            db,
        )
    ).strip()


def pg(tool: str, *args: str) -> str:
    """A Postgres client tool run as postgres against the golden server."""
    return f"runuser -u postgres -- {tool} -h /run/postgresql -p {GOLDEN_PORT} " + " ".join(args)


def timed(run: Run, command: str) -> float:
    """Seconds ``command`` took on the db host, measured from this machine (one SSH call)."""
    started = time.monotonic()
    run(command)
    return time.monotonic() - started


def dump_restore(run: Run, parallel: bool) -> dict[str, Any]:
    """Copy ``bench`` to ``restored`` with pg_dump | pg_restore (custom format through a pipe)
    or, ``parallel``, pg_dump -Fd -j 2 to a directory and pg_restore -j 2 from it."""
    run("cd /tmp && " + pg("dropdb", "--if-exists", "restored") + " && rm -rf /var/tmp/bench.dir")
    if parallel:
        command = (
            pg("createdb", "restored")
            + " && "
            + pg("pg_dump", "-Fd", "-j", "2", "-f", "/var/tmp/bench.dir", "bench")
            + " && "
            + pg("pg_restore", "-j", "2", "-d", "restored", "/var/tmp/bench.dir")
        )
    else:
        command = (
            pg("createdb", "restored")
            + " && "
            + pg("pg_dump", "-Fc", "bench")
            + " | "
            + pg("pg_restore", "-d", "restored")
        )
    total = timed(run, "cd /tmp && " + command)
    rows = int(run(psql(GOLDEN_PORT, "select count(*) from pgbench_accounts", "restored")).strip())
    same_schema = schema(run, GOLDEN_PORT, "restored") == schema(run, GOLDEN_PORT, "bench")
    run("cd /tmp && " + pg("dropdb", "restored") + " && rm -rf /var/tmp/bench.dir")
    return {"total_s": round(total, 3), "rows": rows, "same_schema": same_schema}


def measure(run: Run, scale: int = PGBENCH_SCALE, tries: int = 3) -> dict[str, Any]:
    """Clone (``tries`` times, each from a fresh snapshot) and dump/restore (both baselines)
    the same golden database; timings and checks."""
    size = fill_golden(run, scale)
    rows = int(run(psql(GOLDEN_PORT, "select count(*) from pgbench_accounts")).strip())
    clones = []
    for _ in range(tries):
        run(f"/usr/local/sbin/mlsite-db {DB_SET} drop {USER} || true")
        started = time.monotonic()
        # one SSH call: mlsite-db answers once the copy has answered `select 1`
        answer = json.loads(run(f"/usr/local/sbin/mlsite-db {DB_SET} clone {USER}"))
        total = time.monotonic() - started
        clones.append((total, answer))
    clone_s, answer = sorted(clones, key=lambda c: c[0])[len(clones) // 2]  # the median
    port = int(answer["port"])
    clone_rows = int(run(psql(port, "select count(*) from pgbench_accounts")).strip())
    clone_schema = schema(run, port, "bench") == schema(run, GOLDEN_PORT, "bench")
    run(f"/usr/local/sbin/mlsite-db {DB_SET} drop {USER}")
    baselines = {"pipe": dump_restore(run, parallel=False), "parallel": dump_restore(run, True)}
    fastest = min(b["total_s"] for b in baselines.values())
    return {
        "pgbench_scale": scale,
        "database_bytes": size,
        "rows": rows,
        "clone": {
            "total_s": round(clone_s, 3),
            "all_s": [round(c[0], 3) for c in clones],
            "snapshot_and_clone_s": answer["clone_s"],
            "ready_s": answer["ready_s"],
            "steps": answer.get("steps", {}),
            "rows": clone_rows,
            "depth": answer["depth"],
        },
        "dump_restore": baselines["pipe"],
        "dump_restore_parallel": baselines["parallel"],
        "speedup": round(fastest / clone_s, 1),
        "speedup_pipe": round(baselines["pipe"]["total_s"] / clone_s, 1),
        "rows_match": rows
        == clone_rows
        == baselines["pipe"]["rows"]
        == baselines["parallel"]["rows"],
        "schema_match": clone_schema
        and baselines["pipe"]["same_schema"]
        and baselines["parallel"]["same_schema"],
    }


def bench_site(site: Any, scale: int) -> Any:
    """The lab site with the golden image large enough for pgbench ``scale`` twice over (the
    golden database and the restored copy) and OSD disks that hold that much with room to
    spare: one replica per OSD (3 hosts, size 3), under half full. OSD files end up allocated
    in full on this machine's disk, so they are sized no larger than that."""
    data_gib = max(4, 2 * (scale * 19 // 1000) + 5)  # ~19 MB per scale unit, with indexes
    hosts = tuple(
        h.model_copy(
            update={
                "disks": tuple(
                    d.model_copy(update={"size_gib": max(10, data_gib + 4)}) for d in h.disks
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
        "device (no krbd in this kernel). Golden database: pgbench data (`pgbench -i",
        "--foreign-keys`: primary keys and 5 foreign keys) with secondary indexes on the",
        "foreign-key columns pgbench_accounts(bid) and pgbench_tellers(bid). Clone = one SSH",
        "call of `mlsite-db clone` (CHECKPOINT, fsfreeze, snapshot, protect, clone, Postgres",
        "started and recovered, `select 1` answered on the copy), timed from this machine;",
        f"median of {len(result['runs'][0]['clone']['all_s'])} clones. Dump/restore, timed the",
        "same way on the same host: `pg_dump -Fc | pg_restore` through a pipe, and",
        "`pg_dump -Fd -j 2` to a directory + `pg_restore -j 2` (2 cores); the speedup is over",
        "the faster of the two.",
        "",
        "| database | rows | clone s (all) | `pg_dump -Fc \\| pg_restore` s "
        "| `-Fd -j 2` + `pg_restore -j 2` s | speedup (over the pipe) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        c = r["clone"]
        lines.append(
            f"| {r['database_bytes'] / 1e9:.2f} GB (scale {r['pgbench_scale']}) | {r['rows']:,} "
            f"| {c['total_s']} ({', '.join(str(x) for x in c['all_s'])}) "
            f"| {r['dump_restore']['total_s']} | {r['dump_restore_parallel']['total_s']} "
            f"| {r['speedup']}x ({r['speedup_pipe']}x) |"
        )
    lines += [
        "",
        "Targets: clone <= 3 s, >= 100x faster than dump/restore. Row counts of the copy and of",
        "the restored databases, taken after the timings, equal the golden database's: "
        + ", ".join(str(r["rows_match"]) for r in result["runs"])
        + "; the same indexes and constraints: "
        + ", ".join(str(r["schema_match"]) for r in result["runs"])
        + ".",
        "",
        "Where the median clone's time goes (the tool's own timings, on the db host; `ready` is",
        "the sum, the rest of the total is SSH and the tool's start):",
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

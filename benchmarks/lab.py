"""Benchmark: how long lab hosts take to become SSH-ready, with and without the rootfs cache.

Run as root from the project root: `python benchmarks/lab.py` (add --skip-uncached to leave out
the two debootstrap runs). Writes benchmarks/results/lab.json and benchmarks/results/lab.md.
Uses its own state and cache directories (under a temporary directory); the lab's usual
rootfs cache is neither used nor touched, and no other lab may be up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import ipaddress
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from mlsite.lab import Lab, LabDirs, LabHost, LabPlan, cgroups
from mlsite.lab.rootfs import tarball_path
from mlsite.lab.ssh import ssh_args

RESULTS = Path(__file__).parent / "results"
NETWORK = ipaddress.IPv4Network("10.77.0.0/24")


def bench_plan(count: int) -> LabPlan:
    """`count` disk-less hosts (loop devices are scarce), .11 upwards."""
    hosts = tuple(LabHost(name=f"bench-{i}", address=NETWORK[10 + i]) for i in range(1, count + 1))
    return LabPlan(network=NETWORK, hosts=hosts, site="bench")


def host_pss_mib(name: str) -> float:
    """Proportional memory (PSS: shared pages split between their users) of a lab host, in MiB."""
    total_kib = 0
    for group in cgroups.host_cgroups(name)[:1]:
        for pid in cgroups.pids(group):
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            total_kib += next(
                (int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0
            )
    return total_kib / 1024


def measure(dirs: LabDirs, count: int, case: str) -> dict[str, Any]:
    """Bring `count` hosts up (timed until every sshd answers), check one command each, take down."""
    lab = Lab(dirs)
    plan = bench_plan(count)
    had_tarball = tarball_path(dirs).exists()
    started = time.monotonic()
    lab.up(plan, boot_timeout_s=300)
    ssh_ready_s = time.monotonic() - started
    for host in plan.hosts:
        subprocess.run([*ssh_args(dirs, host), "--", "true"], check=True, timeout=60)
    first_command_s = time.monotonic() - started
    time.sleep(5)  # let boot-time services settle before sampling memory
    pss = [host_pss_mib(h.name) for h in plan.hosts]
    down_started = time.monotonic()
    lab.down()
    result = {
        "case": case,
        "hosts": count,
        "rootfs_tarball_cached": had_tarball,
        "ssh_ready_s": round(ssh_ready_s, 2),
        "all_hosts_ran_a_command_s": round(first_command_s, 2),
        "idle_pss_mib_per_host": round(sum(pss) / len(pss), 1),
        "down_s": round(time.monotonic() - down_started, 2),
    }
    print(json.dumps(result))
    return result


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024**2, 1),
        "kernel": platform.release(),
    }


def write_markdown(data: dict[str, Any], path: Path) -> None:
    """A short human-readable summary."""
    m = data["machine"]
    lines = [
        "# Lab boot benchmark",
        "",
        f"Measured {data['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, kernel {m['kernel']}",
        "by `benchmarks/lab.py`. Time from `Lab.up` until every host's sshd answers; hosts have no disks.",
        "",
        "| case | hosts | SSH-ready (s) | every host ran `true` over SSH (s) | idle memory (PSS) per host (MiB) | down (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['case']} | {r['hosts']} | {r['ssh_ready_s']} | {r['all_hosts_ran_a_command_s']} | "
        f"{r['idle_pss_mib_per_host']} | {r['down_s']} |"
        for r in data["results"]
    ]
    lines += [
        "",
        "Cases: *no cache* builds the rootfs with debootstrap from the Debian mirror first;",
        "*tarball cached* unpacks the cached zstd tarball into a fresh lab state dir;",
        "*warm* brings hosts up again in a state dir that already holds the unpacked rootfs.",
        "",
    ]
    path.write_text("\n".join(lines))


def run_cases(skip_uncached: bool) -> list[dict[str, Any]]:
    """Every case, each in fresh directories under one temporary directory."""
    results = []
    with tempfile.TemporaryDirectory(prefix="mlsite-lab-bench-") as tmp:
        base = Path(tmp)
        for count in (1, 10):
            cache = base / f"cache-{count}"
            if not skip_uncached:
                results.append(
                    measure(LabDirs(state=base / f"cold-{count}", cache=cache), count, "no cache")
                )
            else:
                measure(
                    LabDirs(state=base / f"prime-{count}", cache=cache),
                    1,
                    "prime the cache (not recorded)",
                )
            cached = LabDirs(state=base / f"cached-{count}", cache=cache)
            results.append(measure(cached, count, "tarball cached"))
            results.append(measure(cached, count, "warm"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--skip-uncached", action="store_true", help="Leave out the debootstrap runs."
    )
    args = parser.parse_args()
    # The lab's names and addresses are per machine: wait for lab test sessions to finish.
    session_lock = LabDirs.from_env().state.parent / "lab-test.lock"
    session_lock.parent.mkdir(parents=True, exist_ok=True)
    with session_lock.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = run_cases(args.skip_uncached)
    data = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lab.json").write_text(json.dumps(data, indent=2) + "\n")
    write_markdown(data, RESULTS / "lab.md")


if __name__ == "__main__":
    main()

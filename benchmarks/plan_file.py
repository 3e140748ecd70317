"""Benchmark the whole `mlsite plan FILE` command on generated stack files, YAML included.

    .venv/bin/python benchmarks/plan_file.py [--hosts 50,500] [--repeat 5]

Each case writes the lab site grown to N hosts (``mlsite.plan.synthetic.generated_site``) as a
stack file of a throwaway project, then runs ``mlsite plan <file> --json -`` in a fresh
process: reading the YAML with line numbers, validating, running the program under the mocks
and writing the plan. Wall time and peak RSS of the process, medians.

Target (issue 19): 500 hosts under 5 s wall and 300 MiB.
Writes benchmarks/results/plan_file.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MLSITE = Path(sys.executable).parent / "mlsite"
TARGET_S, TARGET_MIB = 5.0, 300.0


def stack_file(project: Path, hosts: int) -> Path:
    from mlsite.plan.synthetic import generated_site

    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: gen\nruntime: python\nstackConfigDir: stacks\n")
    path = project / "stacks" / "Pulumi.gen.yaml"
    doc = {"config": {"mlsite:site": generated_site(hosts)}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_once(path: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and resources of one ``mlsite plan``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(
        [str(MLSITE), "plan", str(path), "--json", "-"],
        cwd=path.parent.parent,
        env={k: v for k, v in os.environ.items() if k != "MLSITE_PROJECT"},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"mlsite plan failed: {proc.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: each case runs in size order
    return wall, max(peak, before) / 1024, len(json.loads(proc.stdout)["resources"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", default="50,500")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    cases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mlsite-bench-") as tmp:
        for n in sorted(int(h) for h in args.hosts.split(",")):
            path = stack_file(Path(tmp) / f"site-{n}", n)
            runs = [run_once(path) for _ in range(args.repeat)]
            cases.append(
                {
                    "hosts": n,
                    "stack_file_kib": round(path.stat().st_size / 1024, 1),
                    "resources": runs[0][2],
                    "wall_s": round(statistics.median(r[0] for r in runs), 2),
                    "peak_rss_mib": round(max(r[1] for r in runs), 1),
                    "runs": args.repeat,
                }
            )
    load = os.getloadavg()[0]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_1min_at_end": round(load, 2),
        "cases": cases,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "plan_file.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# `mlsite plan FILE`: the whole command on generated stack files",
        "",
        f"Machine: {result['machine']}; 1-minute load {result['load_1min_at_end']} at the end.",
        f"Median wall time of {args.repeat} runs, each a fresh `mlsite plan <file> --json -`",
        "(YAML with line numbers, validation, the program under mocks, the plan written).",
        "",
        "| hosts | stack file | resources | wall | peak RSS | target |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for c in cases:
        met = ""
        if c["hosts"] == 500:
            ok = c["wall_s"] < TARGET_S and c["peak_rss_mib"] < TARGET_MIB
            met = f"< {TARGET_S:g} s, < {TARGET_MIB:g} MiB: {'met' if ok else 'NOT met'}"
        lines.append(
            f"| {c['hosts']} | {c['stack_file_kib']} KiB | {c['resources']} | {c['wall_s']} s "
            f"| {c['peak_rss_mib']} MiB | {met} |"
        )
    (RESULTS / "plan_file.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Benchmark what importing the component library costs a stack program, before and after.

    .venv/bin/python benchmarks/imports.py [--base REV] [--repeat N]

Each run is a fresh interpreter importing every component (``Site``, ``Hosts``, ``Registry``,
``CephCluster``, ``NfsHa``, ``PersonalDatabases``, ``RuntimeImage``), timed from the outside
(wall and peak RSS), with the number of pyinfra and gevent modules it loaded. ``--base REV``
measures that revision too, from a temporary git worktree, with this virtualenv (a revision
before the namespace move imports ``components``, after it ``mlsite.components``).

Target: no pyinfra or gevent in a component import (they belong to the runner process).
Writes benchmarks/results/imports.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NAMES = "Site, Hosts, Registry, CephCluster, NfsHa, PersonalDatabases, RuntimeImage"
PROBE = (
    "import resource, sys, time\n"
    "t = time.perf_counter()\n"
    "from {package} import " + NAMES + "\n"
    "elapsed = time.perf_counter() - t\n"
    "heavy = [m for m in sys.modules if m.split('.')[0] in ('pyinfra', 'gevent')]\n"
    "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(elapsed, len(heavy), rss)\n"
)


def measure(tree: Path, repeat: int) -> dict[str, Any]:
    """Median import time, peak RSS and heavy modules of ``repeat`` fresh interpreters."""
    package = "mlsite.components" if (tree / "mlsite" / "components").is_dir() else "components"
    code = PROBE.format(package=package)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise SystemExit(f"import failed in {tree}: {out.stderr[-2000:]}")
        elapsed, heavy, rss = out.stdout.split()
        runs.append((float(elapsed), int(heavy), int(rss)))
    return {
        "package": package,
        "import_s": round(statistics.median(r[0] for r in runs), 3),
        "rss_mib": round(statistics.median(r[2] for r in runs) / 1024, 1),
        "pyinfra_gevent_modules": runs[0][1],
        "runs": repeat,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="also measure this git revision")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "head": measure(ROOT, args.repeat),
    }
    if args.base:
        with tempfile.TemporaryDirectory(prefix="mlsite-bench-") as tmp:
            tree = Path(tmp) / "tree"
            subprocess.run(
                ["git", "worktree", "add", "-q", "--detach", str(tree), args.base],
                cwd=ROOT,
                check=True,
            )
            try:
                result["base"] = {"rev": args.base, **measure(tree, args.repeat)}
            finally:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
                )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "imports.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [("this tree", result["head"])]
    if "base" in result:
        rows.insert(0, (f"`{result['base']['rev'][:10]}`", result["base"]))
    lines = [
        "# Importing the component library",
        "",
        f"Machine: {result['machine']}. Median of {args.repeat} fresh interpreters each;",
        f"`from <package> import {NAMES}`.",
        "",
        "| tree | package | import | peak RSS | pyinfra + gevent modules |",
        "|---|---|---:|---:|---:|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | `{r['package']}` | {r['import_s']:.2f} s | {r['rss_mib']} MiB "
            f"| {r['pyinfra_gevent_modules']} |"
        )
    (RESULTS / "imports.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Benchmark the real Pulumi engine against mlsite's own paths.

    .venv/bin/python benchmarks/engine.py [--repeats 3] [--parts akiba,generated,lab]

1. ``pulumi preview`` of akiba (real CLI, language host, dynamic-provider plugin) against
   ``mlsite plan --stack akiba`` (mock runtime), same run, medians; their ratio.
2. ``pulumi preview`` of a generated 500-host site: wall time and peak memory of the whole
   process tree (CLI, language host, plugins; sampled every 50 ms). Goal: under 60 s, 2 GiB.
3. With a lab (root, no other lab up): the lab stack converged by ``pulumi up``, then a
   no-op ``pulumi up`` (nothing to change: the engine runs the program and HostDeploy's
   pure diff, no host is contacted), ``pulumi up --refresh`` (every role dry-runs on its
   hosts first, then nothing to change), against a direct re-apply of the same roles with
   the same requests through the host runner, one after another. Goal: at most 2x.

Writes benchmarks/results/engine.json and benchmarks/results/engine.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from mlsite.plan.synthetic import generated_site  # noqa: E402
from mlsite.spec import CONFIG_KEY  # noqa: E402
from tests.engine.conftest import EXAMPLE_PASSPHRASES, EngineProject  # noqa: E402
from tests.engine.test_preview import LAB_SECRETS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent


def timed_tree(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``command``; wall seconds, peak summed RSS of its process tree, output tail."""
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                peak = max(peak, total)
            except psutil.Error:
                pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed ({proc.returncode}):\n{out[-3000:]}")
    return elapsed, peak, out[-400:]


def preview_akiba(work: Path, repeats: int) -> dict[str, Any]:
    project = EngineProject.copy(work / "akiba")
    project.env["PULUMI_CONFIG_PASSPHRASE"] = EXAMPLE_PASSPHRASES["akiba"]
    project.stack("akiba")
    engine, plan = [], []
    for _ in range(repeats):  # taken in turn, so drift of the machine's speed hits both
        engine.append(
            timed_tree(
                [str(BIN / "pulumi"), "preview", "--stack", "akiba", "--non-interactive"],
                project.root,
                project.env,
            )[0]
        )
        plan.append(
            timed_tree(
                [str(BIN / "mlsite"), "plan", "--stack", "akiba"], project.root, project.env
            )[0]
        )
    e, p = statistics.median(engine), statistics.median(plan)
    return {
        "pulumi_preview_s": engine,
        "mlsite_plan_s": plan,
        "median_preview_s": e,
        "median_plan_s": p,
        "ratio": e / p,
    }


def preview_generated(work: Path, hosts: int) -> dict[str, Any]:
    project = EngineProject.copy(work / f"hosts-{hosts}")
    project.env.update(LAB_SECRETS)
    stack = f"hosts{hosts}"
    doc = {"config": {CONFIG_KEY: generated_site(hosts, ROOT)}}
    (project.root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    project.stack(stack)
    elapsed, peak, _ = timed_tree(
        [str(BIN / "pulumi"), "preview", "--stack", stack, "--non-interactive"],
        project.root,
        project.env,
    )
    return {"hosts": hosts, "preview_s": elapsed, "peak_rss_mib": peak / 2**20}


SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""How a state file marks a secret value (``--show-secrets`` puts its JSON in plaintext)."""


def revealed(value: Any) -> Any:
    """An exported resource's outputs with every secret value in place, as the engine hands
    them to the provider."""
    if isinstance(value, dict):
        if SECRET_SIG in value.values() and "plaintext" in value:
            return revealed(json.loads(value["plaintext"]))
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revealed(v) for v in value]
    return value


def lab_rounds(work: Path, repeats: int) -> dict[str, Any]:
    from mlsite.components.hosts.provider import HostDeployProvider
    from mlsite.lab import Lab, plan_lab
    from mlsite.spec import load_stack

    lab = Lab()
    plan = plan_lab(load_stack("lab", ROOT).site)
    lab.down()
    lab.up(plan)
    try:
        project = EngineProject.copy(work / "lab")
        project.env.update(LAB_SECRETS)
        project.env["MLSITE_SSH_KEY"] = str(lab.dirs.ssh_key)
        os.environ.update(LAB_SECRETS)
        os.environ["MLSITE_SSH_KEY"] = str(lab.dirs.ssh_key)
        project.stack("lab")
        up = [
            str(BIN / "pulumi"),
            "up",
            "--stack",
            "lab",
            "--yes",
            "--skip-preview",
            "--non-interactive",
        ]
        first = timed_tree(up, project.root, project.env)[0]
        export = json.loads(project.pulumi("stack", "export", "--show-secrets").stdout)
        # the inputs, secrets revealed, as the engine hands them to create and update
        deploys = [
            revealed(r["inputs"])
            for r in export["deployment"]["resources"]
            if r["type"] == "pulumi-python:dynamic/hosts:HostDeploy"
        ]
        provider = HostDeployProvider()
        rounds: dict[str, list[float]] = {"noop_up_s": [], "up_refresh_s": [], "direct_s": []}
        for _ in range(repeats):
            rounds["noop_up_s"].append(timed_tree(up, project.root, project.env)[0])
            rounds["up_refresh_s"].append(
                timed_tree([*up, "--refresh"], project.root, project.env)[0]
            )
            started = time.monotonic()
            for props in deploys:
                provider._run("apply", props)
            rounds["direct_s"].append(time.monotonic() - started)
        med = {k: statistics.median(v) for k, v in rounds.items()}
        return {
            "first_up_s": first,
            "roles": len(deploys),
            **rounds,
            "median": med,
            "noop_up_vs_direct": med["noop_up_s"] / med["direct_s"],
            "up_refresh_vs_direct": med["up_refresh_s"] / med["direct_s"],
        }
    finally:
        lab.down()


def report(result: dict[str, Any]) -> str:
    a = result["akiba"]
    lines = [
        "# Engine benchmark",
        "",
        f"Machine: {result['machine']} (`benchmarks/engine.py`). Recorded: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.get("recorded", {}).items()))
        + ".",
        "",
        "| what | median | goal |",
        "|---|---|---|",
        f"| `pulumi preview` akiba (real engine) | {a['median_preview_s']:.2f} s | |",
        f"| `mlsite plan --stack akiba` (mocks) | {a['median_plan_s']:.2f} s | |",
        f"| ratio preview / plan | {a['ratio']:.1f}x | |",
    ]
    for g in result["generated"]:
        lines.append(
            f"| `pulumi preview` of {g['hosts']} hosts | {g['preview_s']:.1f} s, "
            f"{g['peak_rss_mib']:.0f} MiB peak (process tree) | < 60 s, < 2048 MiB |"
        )
    lab = result.get("lab")
    if lab:
        m = lab["median"]
        lines += [
            f"| first `pulumi up` of the lab ({lab['roles']} role groups) | "
            f"{lab['first_up_s']:.0f} s | |",
            f"| no-op `pulumi up` of the converged lab | {m['noop_up_s']:.1f} s | |",
            f"| `pulumi up --refresh` (every role dry-runs on its hosts) | "
            f"{m['up_refresh_s']:.1f} s | |",
            f"| direct re-apply of the same roles (host runner, in turn) | {m['direct_s']:.1f} s | |",
            f"| no-op up / direct | {lab['noop_up_vs_direct']:.2f}x | <= 2x |",
            f"| up --refresh / direct | {lab['up_refresh_vs_direct']:.2f}x | <= 2x |",
        ]
    lines += ["", "Samples (seconds):", "", "```", json.dumps(result, indent=1)[:6000], "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--parts", default="akiba,generated,lab", help="which of akiba,generated,lab to run"
    )
    parser.add_argument("--hosts", type=int, nargs="*", default=[500])
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite engine.md from engine.json"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    previous = RESULTS / "engine.json"
    result: dict[str, Any] = json.loads(previous.read_text()) if previous.is_file() else {}
    if args.report_only:
        parts = set()
    else:
        result["machine"] = (
            f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
        )
    with tempfile.TemporaryDirectory(prefix="mlsite-engine-bench-") as tmp:
        work = Path(tmp)
        RESULTS.mkdir(exist_ok=True)
        steps = {
            "akiba": lambda: preview_akiba(work, args.repeats),
            "generated": lambda: [preview_generated(work, n) for n in args.hosts],
            "lab": lambda: lab_rounds(work, args.repeats),
        }
        for part, measure in steps.items():
            if part in parts:
                result[part] = measure()
                result.setdefault("recorded", {})[part] = dt.datetime.now(dt.UTC).strftime(
                    "%Y-%m-%d %H:%M UTC"
                )
                # written as soon as measured; parts not run keep their last record
                previous.write_text(json.dumps(result, indent=2) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    (RESULTS / "engine.md").write_text(report(result))
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

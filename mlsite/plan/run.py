"""Run a stack program under Pulumi's mock runtime and collect its resource graph.

No Pulumi CLI, no credentials, no hosts: the stack file is read directly, its config
handed to the program as the engine would, and every registration recorded.
``python -m mlsite.plan.run --stack S --json FILE`` does the same in a fresh process
(``mlsite diff --base`` uses it inside a git worktree).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import runpy
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import set_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await
from pydantic import BaseModel

from mlsite.plan.mocks import PlanMocks, RecordingMonitor, Registration
from mlsite.plan.tree import plan_doc, scrub
from mlsite.spec import CONFIG_KEY, Secret, SiteSpec, load_stack, project_root, stack_path

LOG = logging.getLogger("mlsite.plan")


@dataclass
class PlanRun:
    """What one mock run of a stack program produced."""

    project: str
    stack: str
    registrations: list[Registration]
    known_secrets: frozenset[str]
    """Plain secret values the program could see; scrubbed from every output."""

    def doc(self) -> dict[str, Any]:
        """The stable plan document (secrets masked)."""
        return plan_doc(self.project, self.stack, self.registrations, self.known_secrets)


def project_name(root: Path) -> str:
    """The ``name:`` of Pulumi.yaml."""
    text = (root / "Pulumi.yaml").read_text(encoding="utf-8")
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return str(doc["name"])


def stack_config(root: Path, stack: str) -> tuple[dict[str, str], list[str]]:
    """The stack file's config as the engine passes it (values JSON-encoded when not
    strings), and the keys holding ``secure:`` values."""
    text = stack_path(stack, root).read_text(encoding="utf-8")
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (doc.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(key)
            value = value["secure"]  # the offline plan never decrypts: ciphertext stands in
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config, secret_keys


_LEAVES = frozenset({str, int, float, bool, type(None)})


def site_secrets(site: SiteSpec) -> frozenset[str]:
    """Every plain secret value reachable from ``site`` (environment and decrypted)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if type(value) in _LEAVES:  # most values: nothing to look into
            return
        if isinstance(value, Secret):
            plain = value._plain or (os.environ.get(value.env) if value.env else None)
            if plain:
                found.add(plain)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(site)
    return frozenset(found)


def run_program(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str] | None = None,
) -> list[Registration]:
    """Run ``program`` under the mock runtime; return every registration in order."""
    pulumi_settings.ROOT.set(None)  # a fresh Stack resource for each run in this process
    set_all_config(dict(config), list(secret_keys or []))
    monitor = RecordingMonitor(PlanMocks())
    set_mocks(PlanMocks(), project=project, stack=stack, preview=False, logger=LOG, monitor=monitor)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    # Each run gets its own worker threads, joined at the end: every worker holds an event
    # loop that otherwise dies noisily at interpreter exit.
    loops: list[asyncio.AbstractEventLoop] = []

    def own_loop() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loops.append(loop)

    workers = ThreadPoolExecutor(4, thread_name_prefix="mlsite-plan", initializer=own_loop)
    _ensure_event_loop().set_default_executor(workers)  # type: ignore[no-untyped-call]
    try:
        _sync_await(run_pulumi_func(program))
    finally:
        workers.shutdown(wait=True)
        for loop in loops:
            loop.close()
    return list(monitor.registrations)


@dataclass(frozen=True)
class StackInput:
    """A stack file read for planning: validated site and the config the engine would pass."""

    root: Path
    project: str
    stack: str
    config: dict[str, str]
    secret_keys: list[str]
    known_secrets: frozenset[str]


def read_stack(stack: str, root: Path | None = None) -> StackInput:
    """Read and validate ``stack`` (errors with file:line before anything runs)."""
    root = project_root(root)
    loaded = load_stack(stack, root)
    config, secret_keys = stack_config(root, stack)
    return StackInput(
        root, project_name(root), stack, config, secret_keys, site_secrets(loaded.site)
    )


def program_entry(root: Path) -> Path | None:
    """The Pulumi program of the project at ``root``, as the engine finds it: ``main`` of
    Pulumi.yaml (a file, or a directory holding ``__main__.py``), default the project's own
    ``__main__.py``; None when the project has none."""
    main = "."
    try:
        project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
        main = str(project.get("main") or ".")
    except (OSError, yaml.YAMLError, AttributeError):
        pass
    entry = root / main
    if entry.is_dir():
        entry = entry / "__main__.py"
    return entry if entry.is_file() else None


def run_project_program(root: Path) -> None:
    """What ``pulumi up`` would run in ``root``: its program (``program_entry``), else the
    whole-site program (a project without a program of its own)."""
    entry = program_entry(root)
    if entry is None:
        from mlsite.components.program import main  # the whole site

        main(root)
        return
    runpy.run_path(str(entry), run_name="__main__")


def plan_input(si: StackInput) -> PlanRun:
    """Run the project's own program on a stack already read (``run_project_program``)."""
    regs = run_program(
        # partial, not a lambda: Pulumi walks every frame below a resource's constructor to
        # record where it was declared, once per resource; one frame less for each.
        partial(run_project_program, si.root),
        project=si.project,
        stack=si.stack,
        config=si.config,
        secret_keys=si.secret_keys,
    )
    return PlanRun(si.project, si.stack, regs, si.known_secrets)


def plan_stack(stack: str, root: Path | None = None) -> PlanRun:
    """Plan ``stack`` of the project at ``root`` (default: the current project)."""
    return plan_input(read_stack(stack, root))


def site_input(
    data: dict[str, Any],
    stack: str,
    root: Path | None = None,
    extra_config: dict[str, str] | None = None,
) -> StackInput:
    """A site description given as data, read for planning as ``read_stack`` reads a stack
    file: validated, and handed over as the engine would (secure values already decrypted)."""
    from mlsite.spec import validate

    root = project_root(root)
    site = validate(data, plaintext_secrets=True)
    config = {CONFIG_KEY: json.dumps(data), **(extra_config or {})}
    return StackInput(root, project_name(root), stack, config, [], site_secrets(site))


def plan_site_data(
    data: dict[str, Any],
    stack: str,
    root: Path | None = None,
    extra_config: dict[str, str] | None = None,
) -> PlanRun:
    """Plan a site description given as data (``site_input``). Used by tests and benchmarks."""
    return plan_input(site_input(data, stack, root, extra_config))


def dumps(doc: dict[str, Any], known_secrets: frozenset[str] = frozenset()) -> str:
    """Stable JSON text of a plan document."""
    return scrub(
        json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n", known_secrets
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m mlsite.plan.run --stack S --json FILE``: plan in this process's checkout."""
    parser = argparse.ArgumentParser(prog="python -m mlsite.plan.run")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--json", required=True, type=Path)
    args = parser.parse_args(argv)
    run = plan_stack(args.stack)
    args.json.write_text(dumps(run.doc(), run.known_secrets), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Calling the host runner (``python -m mlsite.hosts.runner``) in a subprocess.

Standard library only: this module is imported by the dynamic provider inside the
Pulumi engine's provider process, which must stay small and start fast.

The runner contract: one JSON request on stdin, one JSON result on stdout; exit 0 when
every host converged, 1 when a host failed (the result still lists every host), 2 for a
bad request.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

RUNNER_ENV = "MLSITE_HOST_RUNNER"
"""Replaces ``python -m mlsite.hosts.runner`` with this command line (tests use a fake runner)."""

Mode = Literal["apply", "dry-run"]


class RunnerError(Exception):
    """The runner could not do its job; the message says which hosts and why."""


@dataclass(frozen=True)
class Operation:
    """One pyinfra operation on one host."""

    name: str
    changed: bool


@dataclass(frozen=True)
class HostResult:
    """What the runner did (or would do) on one host."""

    changed: int
    operations: tuple[Operation, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True)
class RunnerResult:
    """The runner's answer to one request."""

    ok: bool
    role: str
    mode: str
    elapsed_s: float
    hosts: dict[str, HostResult]

    def failures(self) -> list[str]:
        """One line per failed host."""
        return [f"{n}: {'; '.join(h.errors)}" for n, h in sorted(self.hosts.items()) if h.errors]


def runner_command() -> list[str]:
    """The runner command line: ``$MLSITE_HOST_RUNNER`` or this Python's ``-m mlsite.hosts.runner``."""
    override = os.environ.get(RUNNER_ENV)
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "mlsite.hosts.runner"]


def parse_result(text: str) -> RunnerResult:
    """Parse the runner's JSON result; raise ``RunnerError`` when it is not one."""
    try:
        doc = json.loads(text)
        hosts = {
            str(name): HostResult(
                changed=int(h["changed"]),
                operations=tuple(
                    Operation(str(o["name"]), bool(o["changed"])) for o in h.get("operations", [])
                ),
                errors=tuple(str(e) for e in h.get("errors", [])),
            )
            for name, h in doc["hosts"].items()
        }
        return RunnerResult(
            ok=bool(doc["ok"]),
            role=str(doc["role"]),
            mode=str(doc["mode"]),
            elapsed_s=float(doc["elapsed_s"]),
            hosts=hosts,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        head = text.strip().splitlines()[:1]
        raise RunnerError(
            f"the host runner did not print a JSON result ({exc!r}; output began {head!r})"
        ) from None


def lock_dir() -> Path:
    """Where the per-host locks live: ``$MLSITE_HOST_LOCKS``, else ``~/.cache/mlsite/host-locks``."""
    explicit = os.environ.get("MLSITE_HOST_LOCKS")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlsite" / "host-locks"


@contextlib.contextmanager
def host_locks(request: dict[str, Any]) -> Iterator[None]:
    """Hold an exclusive lock per host of ``request`` (taken in sorted order, so two calls
    never wait on each other in a cycle). The engine runs independent resources at once;
    two roles configuring one host at the same moment would fight over its package manager
    and services, so on any one host roles run one at a time, in whatever order the engine
    starts them, while different hosts proceed in parallel."""
    keys = sorted({f"{h.get('address')}_{h.get('port', 22)}" for h in request.get("hosts", [])})
    directory = lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        for key in keys:
            f = stack.enter_context(open(directory / key.replace("/", "_"), "a+b"))
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield


def call_runner(request: dict[str, Any], timeout_s: float, cwd: Path | None = None) -> RunnerResult:
    """Run the runner on ``request``. A failed host is an error in ``apply`` mode and
    in ``dry-run`` mode alike: a refresh that cannot see a host must not pass silently."""
    with host_locks(request):
        return _call_runner(request, timeout_s, cwd)


def _call_runner(request: dict[str, Any], timeout_s: float, cwd: Path | None) -> RunnerResult:
    cwd = cwd or Path.cwd()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run(
            runner_command(),
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=cwd,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RunnerError(
            f"role {request.get('role')}: the host runner took longer than {timeout_s:.0f} s"
        ) from None
    except OSError as exc:
        raise RunnerError(f"cannot start the host runner {runner_command()!r}: {exc}") from None
    if proc.returncode == 2:
        raise RunnerError(
            f"the host runner refused the request: {_tail(proc.stderr or proc.stdout)}"
        )
    if proc.returncode not in (0, 1):
        raise RunnerError(f"the host runner exited {proc.returncode}: {_tail(proc.stderr)}")
    result = parse_result(proc.stdout)
    if proc.returncode == 1 or not result.ok:
        failed = "; ".join(result.failures()) or _tail(proc.stderr)
        raise RunnerError(f"role {result.role} ({result.mode}) failed on: {failed}")
    return result


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"

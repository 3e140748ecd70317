"""After an update that was cut short (the engine killed, the machine lost): what is left in
the stack, and clearing what is safe to clear before the next run.

A ``pulumi up`` killed mid-way leaves two things behind:

- **the stack's lock** (file backends: ``.pulumi/locks/<org>/<project>/<stack>/*.json``),
  naming the process that held it. One held by a process of this machine that no longer
  runs is stale and is removed; any other lock is left to its owner.
- **pending operations** in the state: the resources the engine was creating, updating or
  deleting. For a ``HostDeploy`` that is always safe to clear: the state still holds the
  inputs last applied (or no resource, for a create), so the next update runs the deploy
  again, and a deploy converges from wherever the cut left its hosts (a runner still busy
  with the old run holds the host's lock until it ends, so the two never overlap). Pending
  creates of other resource types (cloud or cluster objects) may exist without the state
  knowing them: those are named with the command that checks and clears them, and nothing
  is changed.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HOST_DEPLOY = "pulumi-python:dynamic/hosts:HostDeploy"

Pulumi = Callable[[list[str]], tuple[int, str, str]]
"""Runs ``pulumi ARGS`` in the project: exit status, stdout, stderr."""


class Interrupted(RuntimeError):
    """What a cut-short update left that mlsite must not clear itself, and how to clear it."""


@dataclass(frozen=True)
class Recovered:
    """What was cleared, one sentence each."""

    cleared: tuple[str, ...]


def stale_locks(
    backend_url: str, stack: str, hostname: str | None = None
) -> list[tuple[Path, dict[str, Any]]]:
    """Lock files of ``stack`` on a file backend left by processes of this machine that no
    longer run, with what each says of its owner (none for other backends: their locks are
    the service's)."""
    if not backend_url.startswith("file://"):
        return []
    root = Path(urlparse(backend_url).path)
    here = hostname or socket.gethostname()
    stale = []
    for lock in sorted(root.glob(f".pulumi/locks/*/*/{stack}/*.json")):
        try:
            owner = json.loads(lock.read_text())
            pid = int(owner.get("pid", 0))
        except (OSError, ValueError, TypeError):
            continue
        if owner.get("hostname") == here and pid > 0 and not _alive(pid):
            stale.append((lock, owner))
    return stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pending(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The pending operations of an exported deployment."""
    ops = deployment.get("pending_operations") or []
    return [op for op in ops if isinstance(op, dict)]


def _what(op: dict[str, Any]) -> str:
    urn = str(op.get("resource", {}).get("urn", "?"))
    return f"{urn.rsplit('::', 1)[-1]} ({op.get('resource', {}).get('type', '?')}, interrupted while {op.get('type', '?')})"


def recover(stack: str, backend_url: str, pulumi: Pulumi, *, pending_too: bool = True) -> Recovered:
    """Clear what a cut-short update of ``stack`` left that is safe to clear: its stale lock,
    and with ``pending_too`` (before commands that change the stack) its pending operations;
    raise ``Interrupted`` naming what is not safe (nothing is changed then)."""
    cleared = []
    for lock, owner in stale_locks(backend_url, stack):
        lock.unlink()
        cleared.append(
            f"removed the stack's lock left by pulumi (pid {owner.get('pid')}, started "
            f"{owner.get('timestamp', '?')}), which no longer runs"
        )
    if not pending_too:
        return Recovered(tuple(cleared))
    code, out, err = pulumi(["stack", "export", "--stack", stack])
    if code != 0:
        return Recovered(tuple(cleared))  # a new stack, or one the next command explains
    exported = json.loads(out)
    deployment = exported.get("deployment") or {}
    ops = pending(deployment)
    ours = [op for op in ops if op.get("resource", {}).get("type") == HOST_DEPLOY]
    unknown = [op for op in ops if op not in ours and op.get("type") == "creating"]
    if unknown:
        raise Interrupted(
            "an earlier update was cut short while creating "
            + "; ".join(_what(op) for op in unknown)
            + ": these may exist without the state knowing them. Check them, then run "
            f"`pulumi refresh --clear-pending-creates --stack {stack}` (interactively, it "
            "asks about each) or import them"
        )
    if not ours:
        return Recovered(tuple(cleared))
    deployment["pending_operations"] = [op for op in ops if op not in ours]
    with tempfile.TemporaryDirectory(prefix="mlsite-state-") as tmp:
        path = Path(tmp) / "state.json"
        path.write_text(json.dumps(exported))
        path.chmod(0o600)
        code, out, err = pulumi(["stack", "import", "--stack", stack, "--file", str(path)])
    if code != 0:
        raise Interrupted(f"cannot clear the pending operations of {stack}: {err or out}")
    cleared += [f"cleared {_what(op)}: this update runs its deploy again" for op in ours]
    return Recovered(tuple(cleared))

"""Processes the lab starts and outlive the command that started them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def is_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, already dead but not yet reaped, counts as gone)."""
    if pid <= 0:
        return False
    reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def reap(pid: int) -> None:
    """Collect `pid`'s exit status if it is our own child (so no zombie lingers)."""
    # Not our child (or already reaped): nothing to collect, the init process reaps it.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def cmdline(pid: int) -> list[str]:
    """The argument list of a process (empty when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def find_by_argument(needle: str) -> list[int]:
    """Every live process with an argument containing `needle`."""
    return _find(lambda arg: needle in arg)


def find_by_path(path: Path) -> list[int]:
    """Every live process with an argument that is `path` or lies under it (not `path-other`)."""
    exact, under = str(path), str(path) + "/"
    return _find(lambda arg: arg == exact or under in arg or arg.endswith("=" + exact))


def _find(match: Callable[[str], bool]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if any(match(arg) for arg in cmdline(pid)) and is_alive(pid):
                found.append(pid)
    return sorted(found)


def children(pid: int) -> list[int]:
    """Direct children of a process."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def spawn(args: Sequence[str], log: Path, cgroups: Sequence[Path] = ()) -> int:
    """Start a long-running process in its own session, optionally in fresh cgroups.

    The process is moved into `cgroups` before it execs (via a tiny `sh` wrapper that
    writes its own pid), so everything it starts is accounted there from the first instant.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    wrapper: list[str] = []
    if cgroups:
        script = "".join(f'echo $$ > "${i + 1}"/cgroup.procs && ' for i in range(len(cgroups)))
        wrapper = [
            "sh",
            "-c",
            script + f'shift {len(cgroups)} && exec "$@"',
            "sh",
            *map(str, cgroups),
        ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*wrapper, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid


def terminate(pid: int, *, timeout_s: float = 10, hard: bool = False) -> None:
    """Stop a process: SIGTERM (or SIGKILL when `hard`), then SIGKILL after `timeout_s`."""
    if not is_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
    if wait_gone(pid, timeout_s):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_gone(pid, 5)


def wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait until `pid` has exited; whether it did within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

"""Send each host its fact batch the moment the runner starts, before pyinfra is imported.

A runner spends its first half second importing pyinfra, pydantic and the site model;
the hosts sit idle meanwhile, then all answer their fact batch (``mlsite.hosts.prefetch``) at once.
When the same request ran before (same role, host, parameters and SSH settings), the
batch it sent to a host is known: this module replays it as the runner's first act, so
each host reads its facts while the runner imports, and the prepare stage finds the
answers waiting. The answers are always read fresh from the host; only what to ask is
reused. A batch that fails or differs from what the deploy now needs changes nothing:
prefetch then reads the facts as before.

What is kept (one file per host and request, in the fact-plan directory, owner-only):
the fact commands (none holding a secret of the parameters), the ``ssh`` command line
and the batch script sent on its stdin. Files are named by an HMAC of the request under a
random key kept in the same directory, so a name reveals nothing about the parameters.

Standard library only: this runs before anything heavy is imported.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import selectors
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlsite.sshmux import private_dir

log = logging.getLogger("mlsite.hosts")

PLANS_ENV = "MLSITE_FACT_PLANS"
"""Directory of remembered fact plans; "off" disables them. Default: mlsite/fact-plans in
the user's cache directory."""
FORMAT = 2
"""Version of what a plan file holds; 2: batches read combinable facts together
(``mlsite.hosts.facts_together.COMBINABLE``). A file of another version is ignored."""
WAIT_S = 120.0
"""Longest wait for a replayed batch once the prepare stage needs it (then facts are read
as if nothing had been replayed)."""
_ENV_KEYS = (
    "MLSITE_SSH_CONTROL_DIR",
    "MLSITE_SSH_PERSIST",
    "MLSITE_SSH_KNOWN_HOSTS",
    "MLSITE_SSH_KEY",
    "XDG_RUNTIME_DIR",
    "HOME",
)
"""Environment that shapes the ssh command line; part of what names a plan."""


def plans_dir() -> Path | None:
    """Where fact plans live (None: disabled, or the directory is not ours alone)."""
    env = os.environ.get(PLANS_ENV, "")
    if env == "off":
        return None
    if env:
        directory = Path(env)
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        directory = Path(cache) / "mlsite" / "fact-plans"
    return directory if private_dir(directory) else None


@functools.cache
def _hmac_key(directory: Path) -> bytes:
    """The directory's private naming key (made once; read once per process)."""
    path = directory / ".request-key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        partial = directory / f".request-key.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        os.replace(partial, path)
        return path.read_bytes()


def plan_file(directory: Path, role: str, target: dict[str, Any], params: Any) -> Path:
    """The plan of one host of a request: named by an HMAC over the role, the host entry,
    the parameters as sent and the SSH-related environment."""
    identity = {
        "format": FORMAT,
        "role": role,
        "target": target,
        "params": params,
        "env": {k: os.environ.get(k) for k in _ENV_KEYS},
    }
    text = json.dumps(identity, sort_keys=True, default=str).encode()
    digest = hmac.new(_hmac_key(directory), text, hashlib.sha256).hexdigest()[:32]
    return directory / f"r-{digest}.json"


@dataclass
class Saved:
    """A host's remembered batch."""

    commands: list[str]
    token: str = ""
    argv: list[str] = field(default_factory=list)
    stdin: str = ""

    @property
    def replayable(self) -> bool:
        """Whether the exact ssh command of the batch is known."""
        return bool(self.argv and self.stdin and self.token)


def load(path: Path) -> Saved | None:
    """A saved plan, None when missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    commands, argv = data.get("commands"), data.get("argv", [])
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        return None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return None
    return Saved(commands, str(data.get("token", "")), argv, str(data.get("stdin", "")))


def save(path: Path, saved: Saved) -> None:
    """Write ``saved`` to ``path`` (see ``write_private``)."""
    write_private(path, {"format": FORMAT, **saved.__dict__})


def write_private(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path``, mode 0600, atomically (a reader sees the old file
    or the new one); a failure is only logged: a plan is a head start, never required."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        partial.replace(path)
    except OSError as exc:
        log.debug("fact plan %s not kept: %s", path, exc)
        with contextlib.suppress(OSError):
            partial.unlink()


@dataclass
class Replay:
    """A batch sent at start: the plan it came from and, once done, the ssh result."""

    saved: Saved
    result: tuple[int, bytes, bytes] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    process: subprocess.Popen[bytes] | None = None

    def wait(self, sleep: Callable[[float], Any], timeout_s: float = WAIT_S) -> bool:
        """Wait (``sleep`` between looks, gevent's inside the runner) until the batch has
        answered; False when it did not within ``timeout_s`` (it is then stopped)."""
        deadline = time.monotonic() + timeout_s
        while not self.done.is_set():
            if time.monotonic() > deadline:
                if self.process is not None:
                    self.process.kill()
                return False
            sleep(0.001)
        return self.result is not None


@dataclass
class Started:
    """What this process started or will remember, per host name."""

    files: dict[str, Path] = field(default_factory=dict)
    replays: dict[str, Replay] = field(default_factory=dict)


STARTED = Started()


def _pump(replays: list[Replay]) -> None:
    """Start every replay's ssh and move all their pipes in one thread (``selectors``), so
    the runner's main thread goes on importing at once. Whatever happens, every replay ends
    done (without a result when it failed: its facts are then read as usual)."""
    try:
        _move(replays)
    except OSError as exc:
        log.debug("replayed fact batches failed: %s", exc)
    finally:
        for replay in replays:
            replay.done.set()


def _move(replays: list[Replay]) -> None:
    selector = selectors.DefaultSelector()
    outputs: dict[int, list[bytes]] = {}
    open_pipes: dict[int, int] = {}  # replay index -> pipes not yet at end of file
    for i, replay in enumerate(replays):
        try:
            process = subprocess.Popen(
                replay.saved.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            log.debug("replayed fact batch not started: %s", exc)
            replay.done.set()
            continue
        replay.process = process
        pipes = (process.stdin, process.stdout, process.stderr)
        for pipe in pipes:
            os.set_blocking(pipe.fileno(), False)  # type: ignore[union-attr]  # all are PIPE
        data = memoryview(replay.saved.stdin.encode())
        selector.register(process.stdin, selectors.EVENT_WRITE, (i, "in", [data]))  # type: ignore[arg-type]
        selector.register(process.stdout, selectors.EVENT_READ, (i, "out", []))  # type: ignore[arg-type]
        selector.register(process.stderr, selectors.EVENT_READ, (i, "err", []))  # type: ignore[arg-type]
        open_pipes[i] = 3
    while selector.get_map():
        for key, _ in selector.select():
            i, kind, buffers = key.data
            done = False
            if kind == "in":
                try:
                    sent = os.write(key.fd, buffers[0])
                    buffers[0] = buffers[0][sent:]
                    done = not buffers[0]
                except BrokenPipeError:
                    done = True
            else:
                chunk = os.read(key.fd, 65536)
                buffers.append(chunk)
                done = not chunk
            if not done:
                continue
            selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
            if kind != "in":
                outputs[i * 2 + (kind == "err")] = buffers
            open_pipes[i] -= 1
            if open_pipes[i] == 0:
                replay = replays[i]
                status = replay.process.wait() if replay.process is not None else -1
                out, err = b"".join(outputs[i * 2]), b"".join(outputs[i * 2 + 1])
                replay.result = (status, out, err)
                replay.done.set()


def start(request: Any) -> Started:
    """Replay the remembered batch of every host of a runner ``request`` (the parsed JSON)
    and note where each host's plan is kept. Anything unexpected starts nothing."""
    try:
        directory = plans_dir()
        if directory is None or not isinstance(request, dict):
            return STARTED
        role, params = request.get("role"), request.get("params")
        for target in request.get("hosts") or []:
            name = target.get("name") if isinstance(target, dict) else None
            if not isinstance(name, str) or name in STARTED.files:
                continue
            path = plan_file(directory, str(role), target, params)
            STARTED.files[name] = path
            saved = load(path)
            if saved is not None and saved.replayable:
                STARTED.replays[name] = Replay(saved)
    except (OSError, TypeError, ValueError) as exc:  # an early start is only a head start
        log.debug("no early fact batches: %s", exc)
    if STARTED.replays:
        replays = list(STARTED.replays.values())
        threading.Thread(target=_pump, args=(replays,), daemon=True).start()
    return STARTED

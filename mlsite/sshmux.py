"""Where mlsite's shared SSH connections live, and how to end them.

The host runner reaches hosts with the OpenSSH client over one master connection per
``user@address:port`` (``mlsite.hosts.openssh``), kept for ``MLSITE_SSH_PERSIST`` seconds after its
last command. Each master listens on a control socket named after its target, so anything
that knows a host's address (the lab, when it powers a host off or goes down) can end it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import struct
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("mlsite.hosts")

CONTROL_DIR_ENV = "MLSITE_SSH_CONTROL_DIR"
PERSIST_ENV = "MLSITE_SSH_PERSIST"
DEFAULT_PERSIST_S = 60

MUX_MSG_HELLO, MUX_C_ALIVE_CHECK, MUX_S_ALIVE = 0x00000001, 0x10000004, 0x80000005
"""OpenSSH's connection-multiplexing messages (PROTOCOL.mux, protocol version 4)."""
MUX_VERSION = 4


def persist_s() -> int:
    """Seconds a master connection outlives its last command (0: closed after each run)."""
    raw = os.environ.get(PERSIST_ENV, "").strip()
    if not raw:
        return DEFAULT_PERSIST_S
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{PERSIST_ENV}={raw!r}: expected whole seconds, e.g. 60") from None
    if value < 0:
        raise ValueError(f"{PERSIST_ENV}={raw!r}: expected 0 or more seconds")
    return value


def control_dir() -> Path:
    """Where control sockets live: ``MLSITE_SSH_CONTROL_DIR``, else ``mlsite-ssh`` in
    ``$XDG_RUNTIME_DIR``, else ``mlsite/ssh`` in the user's cache directory."""
    env = os.environ.get(CONTROL_DIR_ENV)
    if env:
        return Path(env)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "mlsite-ssh"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mlsite" / "ssh"


def control_path(user: str, address: str, port: int, directory: Path | None = None) -> Path:
    """The control socket of the master connection to ``user@address:port``."""
    return (directory or control_dir()) / f"{user}@{address}:{port}"


def private_dir(directory: Path) -> bool:
    """Create ``directory`` for this user alone; False when it exists and is not safely
    ours (another owner, or open to group or others): a control socket there would let
    whoever can open it run commands on the host."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
    except OSError as exc:
        log.debug("no SSH control directory %s: %s", directory, exc)
        return False
    ours = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    return ours and stat.S_IMODE(info.st_mode) & 0o077 == 0


def close_masters(targets: Iterable[tuple[str, str, int]], directory: Path | None = None) -> int:
    """End the master connections to ``(user, address, port)`` targets; how many there were."""
    closed = 0
    for user, address, port in targets:
        path = control_path(user, address, port, directory)
        if not path.exists():
            continue
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["ssh", "-o", f"ControlPath={path}", "-O", "exit", address],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
                check=False,
            )
        path.unlink(missing_ok=True)
        closed += 1
    return closed


def _read_packet(sock: socket.socket) -> bytes:
    """One length-prefixed mux packet."""

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the master closed the control connection")
            data += chunk
        return data

    (length,) = struct.unpack(">I", exactly(4))
    if length > 65536:
        raise ConnectionError(f"mux packet of {length} bytes")
    return exactly(length)


def master_pid(
    path: Path,
    timeout_s: float = 2.0,
    socket_factory: Callable[..., socket.socket] = socket.socket,
) -> int | None:
    """The pid of the master listening on control socket ``path``, None when none answers.

    Asks over the control socket itself (what ``ssh -O check`` does) without starting an
    ``ssh`` process: a hello each way, then an alive check. ``socket_factory``: a
    cooperative socket class where the caller runs greenlets."""
    try:
        with socket_factory(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(struct.pack(">III", 8, MUX_MSG_HELLO, MUX_VERSION))
            kind, version = struct.unpack(">II", _read_packet(sock)[:8])
            if kind != MUX_MSG_HELLO or version != MUX_VERSION:
                return None
            sock.sendall(struct.pack(">III", 8, MUX_C_ALIVE_CHECK, 1))
            reply = _read_packet(sock)
            kind, request, pid = struct.unpack(">III", reply[:12])
            return pid if kind == MUX_S_ALIVE and request == 1 else None
    except (OSError, struct.error) as exc:
        log.debug("no master on %s: %s", path, exc)
        return None

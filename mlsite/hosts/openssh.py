"""A pyinfra connector over the OpenSSH client that keeps one connection per host.

pyinfra's own ``ssh`` connector (paramiko) logs in afresh on every run: a key exchange and
an authentication on the runner, and on the host an sshd login with its PAM session. The
runner calls pyinfra once per role and once per ``pulumi up``, so a site pays that cost many
times over. This connector runs each command through ``ssh`` with connection sharing
(``ControlMaster``): the first command to a host opens a master connection, every later
command (of this run and of any run in the next ``MLSITE_SSH_PERSIST`` seconds, 60 by
default) is a new channel on it. That is what Ansible does with ``ControlPersist``.

- Control sockets live in ``MLSITE_SSH_CONTROL_DIR`` (default ``$XDG_RUNTIME_DIR/mlsite-ssh``,
  else the user's cache directory), a directory only its owner can open: a socket there
  lets its user run commands on the host without logging in. One socket per
  ``user@address:port``, so ``close_masters`` can end them by name (the lab does at
  ``lab down``). ``MLSITE_SSH_PERSIST=0`` closes each master at the end of its run.
- Commands travel on the channel's stdin, not on ``ssh``'s command line: no local user
  sees them in the process list, and no argument-length limit applies to a batched
  script. A command then runs with its stdin at end of file, as no deploy command reads
  stdin. pyinfra's ``_stdin`` argument and file uploads send the command as the remote
  command line and the data on stdin.
- Host keys, identities and strictness come from the same host data as pyinfra's
  connector (``ssh_known_hosts_file``, ``ssh_strict_host_key_checking``, ``ssh_key``), so
  a host is checked the same way whichever connector reaches it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from subprocess import PIPE
from typing import Any, TypedDict

import gevent
import gevent.os
import gevent.socket
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.api.util import get_file_io
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.util import (
    CommandOutput,
    OutputLine,
    execute_command_with_sudo_retry,
    make_unix_command_for_host,
)

from mlsite.hosts.connection import CONNECT_TIMEOUT_S
from mlsite.sshmux import close_masters, control_path, master_pid, persist_s, private_dir

log = logging.getLogger("mlsite.hosts")

SOCKET_PATH_MAX = 100
"""Longest control socket path used (a Unix socket path holds 108 bytes, and ssh appends a
random suffix while the master sets its socket up); a longer one turns sharing off."""
REMOTE_EVAL = "sh -c 'eval \"$(cat)\"'"
"""The remote command when the command itself comes on stdin: read it all, then run it.
Quoted so that any login shell passes it to ``sh`` unchanged."""


class OpenSSHData(TypedDict, total=False):
    ssh_hostname: str
    ssh_port: int
    ssh_user: str
    ssh_key: str
    ssh_known_hosts_file: str
    ssh_strict_host_key_checking: str


DATA_META = {
    "ssh_hostname": DataMeta("SSH hostname"),
    "ssh_port": DataMeta("SSH port"),
    "ssh_user": DataMeta("SSH user"),
    "ssh_key": DataMeta("SSH key filename"),
    "ssh_known_hosts_file": DataMeta("SSH known_hosts filename"),
    "ssh_strict_host_key_checking": DataMeta("StrictHostKeyChecking", "accept-new"),
}


def available() -> bool:
    """Whether the OpenSSH client is installed."""
    return shutil.which("ssh") is not None


def communicate(argv: list[str], stdin: bytes, timeout: float | None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with ``stdin``; its exit status, stdout and stderr. Other greenlets run
    while it does (every host's command is in flight at once).

    Started with the standard library's ``subprocess`` (vfork and exec: ~0.3 ms of CPU in
    the runner), not ``gevent.subprocess``, whose plain fork copies the runner's page tables
    (~4 ms of CPU and ~8 ms of wall time per command, two commands per host). The pipes
    are read and written through gevent's non-blocking file descriptor calls, and the exit
    status polled once both outputs are closed. Nothing in the runner starts processes
    with ``gevent.subprocess``, whose SIGCHLD watcher would reap them first.
    Raises ``gevent.Timeout`` after ``timeout`` seconds, with the process killed."""
    process = subprocess.Popen(argv, stdin=PIPE, stdout=PIPE, stderr=PIPE, bufsize=0)
    pipes = (process.stdin, process.stdout, process.stderr)
    for pipe in pipes:
        os.set_blocking(pipe.fileno(), False)  # type: ignore[union-attr]  # all three are PIPE

    def feed() -> None:
        view = memoryview(stdin)
        fd = process.stdin.fileno()  # type: ignore[union-attr]
        try:
            while view:
                view = view[gevent.os.nb_write(fd, view) :]
        except BrokenPipeError:
            pass  # the command ended without reading all of its input
        finally:
            process.stdin.close()  # type: ignore[union-attr]

    def drain(fd: int) -> bytes:
        chunks = []
        while chunk := gevent.os.nb_read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        with gevent.Timeout(timeout):
            writer = gevent.spawn(feed)
            out = gevent.spawn(drain, process.stdout.fileno())  # type: ignore[union-attr]
            err = gevent.spawn(drain, process.stderr.fileno())  # type: ignore[union-attr]
            gevent.joinall([writer, out, err], raise_error=True)
            while (status := process.poll()) is None:
                gevent.sleep(0.0005)  # outputs closed: it is exiting
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        for pipe in pipes:
            pipe.close()  # type: ignore[union-attr]
    return status, out.value, err.value


def lines_of(data: bytes, buffer: str) -> list[OutputLine]:
    """Output split into pyinfra's lines: on newlines only, no trailing empty line."""
    if not data:
        return []
    text = data.decode("utf-8", errors="replace")
    parts = text.split("\n")
    if text.endswith("\n"):
        parts.pop()
    return [OutputLine(buffer, line) for line in parts]


def _stdin_bytes(stdin: Any) -> bytes:
    """pyinfra's ``_stdin`` (a str, lines, or a file) as the bytes its connector would send."""
    if hasattr(stdin, "readlines"):
        stdin = stdin.readlines()
    if not isinstance(stdin, list | tuple):
        stdin = [stdin]
    return b"".join((line if line.endswith("\n") else line + "\n").encode() for line in stdin)


class OpenSSHConnector(BaseConnector):
    """Runs commands with the ``ssh`` client over one shared connection per host."""

    handles_execution = True
    data_cls = OpenSSHData
    data_meta = DATA_META

    def __init__(self, state: Any, host: Any) -> None:
        super().__init__(state, host)
        self.address = self.data["ssh_hostname"] or host.name
        self.port = int(self.data["ssh_port"] or 22)
        self.user = self.data["ssh_user"] or os.environ.get("USER", "root")
        self.persist = persist_s()
        path = control_path(self.user, self.address, self.port)
        shared = len(str(path)) <= SOCKET_PATH_MAX and private_dir(path.parent)
        self.control: Path | None = path if shared else None
        self.last_sent: tuple[list[str], str] | None = None
        """The ssh command line and stdin of the last command sent with its text on stdin
        (``mlsite.hosts.early`` replays a fact batch from them)."""

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise ConnectError("the OpenSSH connector needs a host name")
        yield name, {"ssh_hostname": name}, []

    def argv(self, *extra: str) -> list[str]:
        """The ``ssh`` command line up to (not including) the remote command."""
        options = {
            "BatchMode": "yes",
            "ConnectTimeout": str(CONNECT_TIMEOUT_S),
            "LogLevel": "ERROR",
            "ServerAliveInterval": "10",
            "ServerAliveCountMax": "3",
            "StrictHostKeyChecking": self.data["ssh_strict_host_key_checking"] or "accept-new",
        }
        if self.data["ssh_key"]:
            options["IdentitiesOnly"] = "yes"
        if self.data["ssh_known_hosts_file"]:
            options["UserKnownHostsFile"] = self.data["ssh_known_hosts_file"]
            options["GlobalKnownHostsFile"] = "/dev/null"
        if self.control is not None:
            options["ControlMaster"] = "auto"
            options["ControlPath"] = str(self.control)
            options["ControlPersist"] = str(self.persist) if self.persist else "yes"
        else:
            options["ControlPath"] = "none"
        argv = ["ssh", "-T", "-p", str(self.port), "-l", self.user]
        if self.data["ssh_key"]:
            argv += ["-i", str(self.data["ssh_key"])]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        return [*argv, *extra, self.address]

    def _ssh(
        self, remote: str, stdin: bytes, timeout: float | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run ``remote`` on the host with ``stdin``: exit status, stdout, stderr."""
        try:
            return communicate([*self.argv(), remote], stdin, timeout)
        except gevent.Timeout:
            raise TimeoutError(f"{self.host.name}: command timed out after {timeout} s") from None

    def connect(self) -> None:
        """Reuse a live master connection, or log in and leave one behind."""
        # a live master is asked over its socket (as ``ssh -O check`` would, without
        # starting an ssh process)
        if (
            self.control is not None
            and self.control.exists()
            and master_pid(self.control, socket_factory=gevent.socket.socket) is not None
        ):
            return
        status, _, err = self._ssh("true", b"", timeout=CONNECT_TIMEOUT_S + 20)
        if status != 0:
            message = err.decode(errors="replace").strip() or f"ssh exited with {status}"
            raise ConnectError(message)

    def disconnect(self) -> None:
        if self.control is not None and self.persist == 0:
            close_masters([(self.user, self.address, self.port)], self.control.parent)

    def run_shell_command(
        self,
        command: StringCommand,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> tuple[bool, CommandOutput]:
        arguments.pop("_get_pty", None)  # deploys run nothing interactive
        timeout = arguments.pop("_timeout", None)
        stdin = arguments.pop("_stdin", None)
        success_codes = arguments.pop("_success_exit_codes", None)

        def execute_command() -> tuple[int, CommandOutput]:
            unix = make_unix_command_for_host(self.state, self.host, command, **arguments)
            raw = unix.get_raw_value()
            log.debug("running on %s: %s", self.host.name, unix)
            if stdin is None:
                self.last_sent = ([*self.argv(), REMOTE_EVAL], raw)
                status, out, err = self._ssh(REMOTE_EVAL, raw.encode(), timeout)
            else:
                status, out, err = self._ssh(raw, _stdin_bytes(stdin), timeout)
            return status, CommandOutput(lines_of(out, "stdout") + lines_of(err, "stderr"))

        status, output = execute_command_with_sudo_retry(self.host, arguments, execute_command)  # type: ignore[arg-type]
        ok = status in success_codes if success_codes else status == 0
        return ok, output

    def _as_operation_user(self, command: StringCommand, arguments: dict[str, Any]) -> str:
        """``command`` wrapped as the operation asks (sudo, su, env, chdir); the arguments
        that only shape how a command runs (pty, timeout, stdin, exit codes) do not apply
        to a file transfer."""
        for key in ("_get_pty", "_timeout", "_stdin", "_success_exit_codes"):
            arguments.pop(key, None)
        return str(
            make_unix_command_for_host(self.state, self.host, command, **arguments).get_raw_value()
        )

    def put_file(
        self,
        filename_or_io: Any,
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> bool:
        """Write a local file or IO object to ``remote_filename`` (as the operation's user,
        sudo included)."""
        with get_file_io(filename_or_io) as file_io:
            data = file_io.read()
        payload = data.encode() if isinstance(data, str) else data
        write = StringCommand("cat", ">", QuoteString(remote_filename))
        status, _, err = self._ssh(self._as_operation_user(write, arguments), payload)
        if status != 0:
            raise OSError(f"{remote_filename}: {err.decode(errors='replace').strip()}")
        return True

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: Any,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> bool:
        """Read ``remote_filename`` into a local file or IO object."""
        read = StringCommand("cat", QuoteString(remote_filename))
        status, out, err = self._ssh(REMOTE_EVAL, self._as_operation_user(read, arguments).encode())
        if status != 0:
            raise OSError(f"{remote_filename}: {err.decode(errors='replace').strip()}")
        with get_file_io(filename_or_io, "wb") as file_io:
            file_io.write(out)
        return True


def use_openssh(hosts: Iterable[Any]) -> None:
    """Make pyinfra ``hosts`` (before their State exists) connect with this connector."""
    for host in hosts:
        host.connector_cls = OpenSSHConnector

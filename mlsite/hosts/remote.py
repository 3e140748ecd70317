"""Run a command on a site host over SSH, as mlsite itself logs in (CLI helpers)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from mlsite.spec import Host


def ssh_command(host: Host, stack_file: Path | None, command: str) -> list[str]:
    """The ssh argument list running ``command`` on ``host`` with mlsite's key and known_hosts."""
    from mlsite.hosts.connection import key_for, known_hosts_for

    key = key_for(host, stack_file)
    args = ["ssh", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-p", str(host.ssh.port)]
    if key is not None:
        args += ["-i", str(key)]
        known = known_hosts_for(key)
        if known is not None:
            args += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
    prefix = "" if host.ssh.user == "root" else "sudo -n "
    return [*args, f"{host.ssh.user}@{host.address}", "--", prefix + command]


def run_on(
    host: Host, stack_file: Path | None, *argv: str, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (quoted) on ``host``; the finished process."""
    command = " ".join(shlex.quote(a) for a in argv)
    return subprocess.run(
        ssh_command(host, stack_file, command),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )

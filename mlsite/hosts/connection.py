"""How pyinfra reaches a host: SSH connection data for a site host or a runner target.

Lab hosts log in with the lab's generated key (``MLSITE_SSH_KEY`` overrides it; where it
lives is ``mlsite.dirs``, so the host layer never imports the lab) and are checked strictly against the lab's known_hosts file, which sits beside the key. Other hosts
use their ``ssh.key`` (relative to the stack file) or the SSH agent, with known_hosts from
``MLSITE_SSH_KNOWN_HOSTS`` or the user's own file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlsite.hosts.contract import Target
from mlsite.spec import Host

CONNECT_TIMEOUT_S = 10


def target_for(host: Host) -> Target:
    """How ``host`` of a site description is reached (the one ``Target`` every part uses)."""
    return Target(
        name=host.name,
        address=str(host.address),
        port=host.ssh.port,
        user=host.ssh.user,
        key_file=host.ssh.key,
        lab=host.lab,
    )


def key_for(host: Host, stack_file: Path | None) -> Path | None:
    """The private key that logs in to ``host``; None means the SSH agent's keys. A relative
    ``ssh.key`` is relative to the stack file."""
    return target_for(host).key_path(stack_file.parent if stack_file else None)


def known_hosts_for(key_file: Path | None) -> Path | None:
    """The known_hosts file to check host keys against (None: the user's default)."""
    env = os.environ.get("MLSITE_SSH_KNOWN_HOSTS")
    if env:
        return Path(env)
    if key_file is not None:
        beside = key_file.parent / "known_hosts"
        if beside.is_file():
            return beside
    return None


def ssh_data(address: str, port: int, user: str, key_file: Path | None) -> dict[str, Any]:
    """pyinfra host data for an SSH connection."""
    data: dict[str, Any] = {
        "ssh_hostname": address,
        "ssh_port": port,
        "ssh_user": user,
        "ssh_allow_agent": key_file is None,
        "ssh_look_for_keys": key_file is None,
    }
    if key_file is not None:
        data["ssh_key"] = str(key_file)
    known_hosts = known_hosts_for(key_file)
    if known_hosts is not None:
        data["ssh_known_hosts_file"] = str(known_hosts)
        data["ssh_strict_host_key_checking"] = "yes"
    if user != "root":
        data["_sudo"] = True
    return data

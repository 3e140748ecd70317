"""Pure renderers of the base layer's configuration files (tested without hosts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

HEADER = "# Managed by mlsite (hosts/deploys/base.py); local edits are overwritten.\n"


def hosts_block(entries: Iterable[tuple[str, str, str]]) -> str:
    """The site's lines of /etc/hosts: ``address fqdn name`` per (name, address, fqdn)."""
    return "\n".join(f"{address} {fqdn} {name}" for name, address, fqdn in entries)


def chrony_conf(servers: Iterable[str], family: Literal["debian", "ubuntu"]) -> str:
    """chrony.conf using the site's NTP servers, or the distribution's pool when none."""
    sources = [f"server {s} iburst" for s in servers]
    if not sources:
        pool = "2.debian.pool.ntp.org" if family == "debian" else "ntp.ubuntu.com"
        sources = [f"pool {pool} iburst maxsources 4"]
    return (
        HEADER
        + "\n".join(
            [
                *sources,
                "sourcedir /run/chrony-dhcp",
                "sourcedir /etc/chrony/sources.d",
                "confdir /etc/chrony/conf.d",
                "keyfile /etc/chrony/chrony.keys",
                "driftfile /var/lib/chrony/chrony.drift",
                "ntsdumpdir /var/lib/chrony",
                "logdir /var/log/chrony",
                "maxupdateskew 100.0",
                "rtcsync",
                "makestep 1 3",
                "leapsectz right/UTC",
            ]
        )
        + "\n"
    )


def sudoers(nopasswd: Iterable[str]) -> str:
    """The sudo policy: logged, with a pty; only mlsite's own SSH users get NOPASSWD.

    Workspace users get no sudo at all (they are not in the ``sudo`` group)."""
    lines = [
        HEADER.rstrip("\n"),
        "Defaults use_pty",
        "Defaults logfile=/var/log/sudo.log",
        "Defaults !visiblepw",
    ]
    lines += [f"{user} ALL=(ALL:ALL) NOPASSWD: ALL" for user in sorted(set(nopasswd))]
    return "\n".join(lines) + "\n"


def sshd_dropin(permit_root_login: Literal["no", "prohibit-password"]) -> str:
    """sshd hardening. Loaded first (00-), and sshd keeps the first value it reads, so it
    wins over distribution drop-ins such as Ubuntu cloud images' 50-cloud-init.conf."""
    return (
        HEADER
        + "\n".join(
            [
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitEmptyPasswords no",
                "PubkeyAuthentication yes",
                f"PermitRootLogin {permit_root_login}",
                "X11Forwarding no",
                "MaxAuthTries 4",
                "LoginGraceTime 30",
                "ClientAliveInterval 60",
                "ClientAliveCountMax 5",
            ]
        )
        + "\n"
    )


def journald_conf(max_use_mib: int, retention_days: int) -> str:
    """journald limits so logs never fill a host's disk."""
    return (
        HEADER
        + "\n".join(
            [
                "[Journal]",
                "Storage=persistent",
                f"SystemMaxUse={max_use_mib}M",
                f"SystemKeepFree={max_use_mib}M",
                f"MaxRetentionSec={retention_days}day",
                "RateLimitIntervalSec=30s",
                "RateLimitBurst=10000",
            ]
        )
        + "\n"
    )


def sysctl_conf(values: Mapping[str, str]) -> str:
    """/etc/sysctl.d/90-mlsite.conf."""
    return HEADER + "".join(f"{key} = {value}\n" for key, value in sorted(values.items()))


def resolv_conf(servers: Iterable[str], domain: str) -> str:
    """/etc/resolv.conf of a host whose resolvers no daemon manages (glibc reads the first
    three ``nameserver`` lines)."""
    return HEADER + f"search {domain}\n" + "".join(f"nameserver {s}\n" for s in servers)


def resolved_dropin(servers: Iterable[str], domain: str) -> str:
    """A systemd-resolved drop-in: these resolvers, ``domain`` searched."""
    return HEADER + "[Resolve]\n" + f"DNS={' '.join(servers)}\n" + f"Domains={domain}\n"

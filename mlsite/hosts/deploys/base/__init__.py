"""The base layer of every host: identity, time, users, sudo, sshd, sysctl, journald."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, SiteSpec

USERS_GROUP = "mlsite-users"


USERS_GID = 1999
"""Every workspace user is in this group (fixed gid, the same on every host)."""


ML_SYSCTL: dict[str, str] = {
    "vm.swappiness": "10",
    "vm.max_map_count": "262144",
    "fs.inotify.max_user_watches": "1048576",
    "fs.inotify.max_user_instances": "8192",
    "net.core.somaxconn": "4096",
    "net.ipv4.tcp_max_syn_backlog": "8192",
}
"""Kernel settings for ML hosts: little swapping, many file watches (Jupyter, data loaders)."""


SSHD_DROPIN = "/etc/ssh/sshd_config.d/00-mlsite.conf"


SUDOERS = "/etc/sudoers.d/mlsite"


SYSCTL_FILE = "/etc/sysctl.d/90-mlsite.conf"


JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/50-mlsite.conf"
RESOLV_CONF = "/etc/resolv.conf"
RESOLVED_DROPIN = "/etc/systemd/resolved.conf.d/50-mlsite.conf"
RESOLVED_STUBS = ("/run/systemd/resolve/stub-resolv.conf", "/run/systemd/resolve/resolv.conf")
"""Where /etc/resolv.conf points when systemd-resolved owns it."""


class SiteHostEntry(DeployParams):
    """One line of the site's /etc/hosts block."""

    name: str
    address: str
    fqdn: str


class Account(DeployParams):
    """A site user (from ``workspaces.users``) with a fixed uid on every host."""

    name: str
    uid: int = Field(ge=1000, le=60000)
    """uid, also the gid of the user's own group."""
    ssh_keys: tuple[str, ...] = ()
    """authorized_keys lines. Default: none (the user logs in through Jupyter only)."""


class Params(DeployParams):
    """Parameters of the base role on a group of hosts."""

    domain: str
    """DNS domain; each host's FQDN is ``<name>.<domain>``."""
    timezone: str
    """IANA time zone."""
    ntp_servers: tuple[str, ...] = ()
    """NTP servers. Empty: the distribution's pool."""
    dns_servers: tuple[str, ...] = ()
    """DNS resolvers (``site.dns``), with ``domain`` searched. Empty: each host keeps its own."""
    chrony_start: bool = True
    """Start chronyd. False on lab hosts: they share the parent's clock and chronyd's unit is
    skipped there anyway (ConditionCapability=CAP_SYS_TIME); chrony is still installed,
    configured and enabled."""
    site_hosts: tuple[SiteHostEntry, ...]
    """Every host of the site, written to /etc/hosts."""
    accounts: tuple[Account, ...] = ()
    """Site users. Default: none."""
    sudo_nopasswd: tuple[str, ...] = ()
    """Users given password-less sudo: mlsite's own SSH users other than root."""
    permit_root_login: Literal["no", "prohibit-password"] = "no"
    """sshd's PermitRootLogin. ``prohibit-password`` (keys only) when mlsite itself logs in as
    root (lab hosts, hosts with ``ssh.user: root``) — else mlsite would lock itself out."""
    sysctl: dict[str, str] = Field(default_factory=lambda: dict(ML_SYSCTL))
    """Kernel settings, persisted in /etc/sysctl.d/90-mlsite.conf."""
    sysctl_live: Literal["all", "netns"] = "all"
    """Which settings are also applied at once: ``all``, or only ``net.core.*`` (lab hosts
    are containers: they may write only their network namespace's net.core settings; the
    rest of /proc/sys is the parent kernel's, read-only or permission denied)."""
    masked_units: tuple[str, ...] = ()
    """systemd units masked so they never run. Lab hosts mask the units that only load a
    kernel module this machine's kernel lacks (``LAB_MASKED_UNITS``), which would otherwise
    be left failed; real hosts mask nothing."""
    journal_max_use_mib: int = Field(default=2048, ge=64)
    """journald's disk budget."""
    journal_retention_days: int = Field(default=30, ge=1)
    """How long journald keeps entries."""


LAB_MASKED_UNITS = (
    "nvmf-autoconnect.service",  # nvme-cli (pulled in by ceph): modprobe nvme-fabrics
    "run-rpc_pipefs.mount",  # nfs-common: the rpc_pipefs file system (kernel sunrpc)
)
"""Units with nothing to do on a lab host: each needs a kernel module the lab kernel lacks."""


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The base parameters of ``hosts`` (pure)."""
    domain = site.site.domain
    users = site.workspaces.users if site.workspaces else ()
    lab = any(h.lab for h in hosts)
    ssh_users = {h.ssh.user for h in hosts}
    return Params(
        domain=domain,
        timezone=site.site.timezone,
        ntp_servers=site.site.ntp,
        dns_servers=tuple(str(a) for a in site.site.dns),
        chrony_start=not lab,
        site_hosts=tuple(
            SiteHostEntry(name=h.name, address=str(h.address), fqdn=f"{h.name}.{domain}")
            for h in site.hosts
        ),
        accounts=tuple(
            Account(name=u.name, uid=u.uid if u.uid is not None else 2000 + i, ssh_keys=u.ssh_keys)
            for i, u in enumerate(users)
        ),
        sudo_nopasswd=tuple(sorted(ssh_users - {"root"})),
        permit_root_login="prohibit-password" if "root" in ssh_users else "no",
        sysctl_live="netns" if lab else "all",
        masked_units=LAB_MASKED_UNITS if lab else (),
    )


DEPLOY = Deploy(name="base", params_model=Params, params_for=params_for, batch_facts=True)

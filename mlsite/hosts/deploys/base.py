"""The base layer of every host: identity, time, users, sudo, sshd, sysctl, journald."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import files, server

from mlsite.hosts import operations
from mlsite.hosts.deploys.common import put_text
from mlsite.hosts.distro import distro
from mlsite.hosts.params import RoleParams
from mlsite.hosts.render import base as render
from mlsite.hosts.roles import RoleDeploy
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


class SiteHostEntry(RoleParams):
    """One line of the site's /etc/hosts block."""

    name: str
    address: str
    fqdn: str


class Account(RoleParams):
    """A site user (from ``workspaces.users``) with a fixed uid on every host."""

    name: str
    uid: int = Field(ge=1000, le=60000)
    """uid, also the gid of the user's own group."""
    ssh_keys: tuple[str, ...] = ()
    """authorized_keys lines. Default: none (the user logs in through Jupyter only)."""


class Params(RoleParams):
    """Parameters of the base role on a group of hosts."""

    domain: str
    """DNS domain; each host's FQDN is ``<name>.<domain>``."""
    timezone: str
    """IANA time zone."""
    ntp_servers: tuple[str, ...] = ()
    """NTP servers. Empty: the distribution's pool."""
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


@deploy("base")
def base(params: Params) -> None:
    """Apply the base layer to the current host."""
    family = distro().family
    operations.apt_update(name="Refresh package lists (at most daily)", cache_time=86400)
    operations.packages(
        name="Install base packages",
        packages=["chrony", "sudo", "tzdata", "openssh-server", "procps"],
    )
    operations.hostname(name="Set the host name", hostname=host.name)
    files.block(
        name="List the site's hosts in /etc/hosts",
        path="/etc/hosts",
        content=render.hosts_block((e.name, e.address, e.fqdn) for e in params.site_hosts),
        marker="# {mark} mlsite site hosts",
    )
    operations.timezone(name=f"Set the time zone to {params.timezone}", timezone=params.timezone)

    chrony = put_text(
        "Configure chrony",
        "/etc/chrony/chrony.conf",
        render.chrony_conf(params.ntp_servers, family),
    )
    operations.service(
        name="Enable chrony" + (" and keep it running" if params.chrony_start else ""),
        service="chrony",
        enabled=True,
        running=params.chrony_start or None,
        restarted=params.chrony_start and chrony.will_change,
    )

    _masked_units(params.masked_units)
    _accounts(params)

    sudo = put_text("Install the sudo policy", SUDOERS, render.sudoers(params.sudo_nopasswd), "440")
    if sudo.will_change:
        server.shell(name="Check the sudo policy parses", commands=[f"visudo -c -q -f {SUDOERS}"])

    sshd = put_text(
        f"Harden sshd (no passwords, PermitRootLogin {params.permit_root_login})",
        SSHD_DROPIN,
        render.sshd_dropin(params.permit_root_login),
    )
    if sshd.will_change:
        server.shell(
            name="Check and reload sshd",
            commands=["sshd -t", "systemctl try-reload-or-restart ssh.service"],
        )

    _sysctl(params)

    journald = put_text(
        "Limit journald's disk use",
        JOURNALD_DROPIN,
        render.journald_conf(params.journal_max_use_mib, params.journal_retention_days),
    )
    if journald.will_change:
        operations.service(
            name="Restart journald", service="systemd-journald", running=True, restarted=True
        )


def _masked_units(units: tuple[str, ...]) -> None:
    """Mask ``units`` (before the roles that install them run, so they never start)."""
    changed = [
        files.link(
            name=f"Mask {unit}", path=f"/etc/systemd/system/{unit}", target="/dev/null"
        ).will_change
        for unit in units
    ]
    if any(changed):
        server.shell(
            name="Reload systemd and forget masked units' failures",
            commands=[
                "systemctl daemon-reload",
                f"systemctl reset-failed {' '.join(units)} || true",
            ],
        )


def _accounts(params: Params) -> None:
    operations.group(name=f"Create group {USERS_GROUP}", group=USERS_GROUP, gid=USERS_GID)
    for account in params.accounts:
        operations.account(
            name=f"Create user {account.name} (uid {account.uid})",
            user=account.name,
            uid=account.uid,
            groups=(USERS_GROUP,),
            home=f"/home/{account.name}",
            shell="/bin/bash",
            ssh_keys=account.ssh_keys or None,
        )


def _sysctl(params: Params) -> None:
    put_text("Persist kernel settings", SYSCTL_FILE, render.sysctl_conf(params.sysctl))
    for key, value in sorted(params.sysctl.items()):
        if params.sysctl_live == "all" or key.startswith("net.core."):
            server.sysctl(name=f"Set {key} = {value}", key=key, value=value)


ROLE = RoleDeploy(
    name="base", deploy=base, params_model=Params, params_for=params_for, batch_facts=True
)

# Run as a deploy file: pyinfra hosts/inventory.py hosts/deploys/base.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("base")

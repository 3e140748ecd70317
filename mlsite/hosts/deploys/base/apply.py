"""The pyinfra half of the ``base`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.base``.
"""

from __future__ import annotations

import posixpath

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.files import Link
from pyinfra.operations import files, server

from mlsite.hosts import notices, operations
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.base import (
    JOURNALD_DROPIN,
    RESOLV_CONF,
    RESOLVED_DROPIN,
    RESOLVED_STUBS,
    SSHD_DROPIN,
    SUDOERS,
    SYSCTL_FILE,
    USERS_GID,
    USERS_GROUP,
    Params,
    render,
)
from mlsite.hosts.distro import distro
from mlsite.hosts.facts import GroupMembers


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

    _resolvers(params)
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


def _resolvers(params: Params) -> None:
    """The site's DNS resolvers, where whoever owns /etc/resolv.conf takes them: a
    systemd-resolved drop-in when the file links to resolved's stub, else the file itself.
    A link to anything else (resolvconf, NetworkManager) is refused, naming it."""
    if not params.dns_servers:
        return
    link = host.get_fact(Link, path=RESOLV_CONF)
    if not link:  # a plain file, or none
        put_text("Set the DNS resolvers", RESOLV_CONF, render.resolv_conf(*_dns(params)))
        return
    target = posixpath.normpath(posixpath.join("/etc", str(link["link_target"])))
    if target not in RESOLVED_STUBS:
        raise RuntimeError(
            f"site.dns: /etc/resolv.conf on {host.name} links to {target}, which mlsite does "
            "not manage; point it at systemd-resolved or a plain file, or drop site.dns"
        )
    dropin = put_text(
        "Set the DNS resolvers (systemd-resolved)",
        RESOLVED_DROPIN,
        render.resolved_dropin(*_dns(params)),
    )
    operations.service(
        name="Restart systemd-resolved for the resolvers",
        service="systemd-resolved",
        running=None,
        restarted=dropin.will_change,
    )


def _dns(params: Params) -> tuple[tuple[str, ...], str]:
    return params.dns_servers, params.domain


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
    described = {a.name for a in params.accounts}
    members: list[str] = host.get_fact(GroupMembers, group=USERS_GROUP)
    for name in sorted(set(members) - described):
        notices.notice(
            f"user {name} is no longer described: the account and /home/{name} stay as they "
            f"are (still in {USERS_GROUP}); remove them by hand once their data is saved"
        )
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


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/base/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.base import DEPLOY

    run_deploy_file(DEPLOY)

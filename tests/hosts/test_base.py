"""The base deploy at operation level: site description + facts -> commands."""

from __future__ import annotations

import hashlib

from hosts.deploys import base
from hosts.render import base as render
from mlsite.spec import SiteSpec
from tests.hosts.fakehost import DEBIAN_12, UBUNTU_24, plan


def _params(site: SiteSpec) -> base.Params:
    return base.params_for(site, site.hosts)


def test_lab_params_keep_root_login_with_keys_only(lab_site: SiteSpec) -> None:
    params = _params(lab_site)
    assert params.permit_root_login == "prohibit-password"
    assert params.sudo_nopasswd == ()
    assert params.sysctl_live == "netns" and params.chrony_start is False
    assert [(a.name, a.uid) for a in params.accounts] == [("alice", 2001)]


def test_non_root_ssh_user_gets_no_root_login_and_nopasswd_sudo(lab_site: SiteSpec) -> None:
    hosts = tuple(
        h.model_copy(update={"ssh": h.ssh.model_copy(update={"user": "ops"}), "lab": False})
        for h in lab_site.hosts
    )
    params = base.params_for(lab_site, hosts)
    assert params.permit_root_login == "no"
    assert params.sudo_nopasswd == ("ops",)
    assert "ops ALL=(ALL:ALL) NOPASSWD: ALL" in render.sudoers(params.sudo_nopasswd)
    assert params.sysctl_live == "all" and params.chrony_start


def test_fresh_debian_host_gets_every_step(lab_site: SiteSpec) -> None:
    p = plan(base.base, _params(lab_site), {"LinuxDistribution": DEBIAN_12}, "lab-1")
    assert p.error is None
    assert "useradd" in p.op("base | Create user alice").text and "--uid 2001" in p.all_commands
    sshd = p.upload(base.SSHD_DROPIN)
    assert "PasswordAuthentication no" in sshd and "PermitRootLogin prohibit-password" in sshd
    assert p.op("base | Check and reload sshd").commands == [
        "sshd -t",
        "systemctl try-reload-or-restart ssh.service",
    ]
    assert "visudo -c -q -f /etc/sudoers.d/mlsite" in p.all_commands
    assert "pool 2.debian.pool.ntp.org" in p.upload("/etc/chrony/chrony.conf")
    # lab: only the network namespace's settings are applied live; all are persisted
    assert "sysctl net.core.somaxconn=4096" in p.all_commands
    assert "sysctl net.ipv4.tcp_max_syn_backlog" not in p.all_commands
    assert "vm.swappiness" not in p.all_commands.replace("upload", "")
    assert "vm.swappiness = 10" in p.upload(base.SYSCTL_FILE)
    assert "SystemMaxUse=2048M" in p.upload(base.JOURNALD_DROPIN)


def test_ubuntu_uses_the_ubuntu_ntp_pool(lab_site: SiteSpec) -> None:
    p = plan(base.base, _params(lab_site), {"LinuxDistribution": UBUNTU_24}, "lab-1")
    assert "pool ntp.ubuntu.com" in p.upload("/etc/chrony/chrony.conf")


def test_sshd_is_not_reloaded_when_the_dropin_is_in_place(lab_site: SiteSpec) -> None:
    params = _params(lab_site)
    dropin = render.sshd_dropin(params.permit_root_login)

    def file_fact(path: str) -> object:
        return (
            {"mode": 644, "user": "root", "group": "root", "size": len(dropin)}
            if path == base.SSHD_DROPIN
            else None
        )

    def sha1(path: str) -> str | None:
        return hashlib.sha1(dropin.encode()).hexdigest() if path == base.SSHD_DROPIN else None

    p = plan(
        base.base,
        params,
        {
            "LinuxDistribution": DEBIAN_12,
            "File": file_fact,
            "Sha1File": sha1,
            "Directory": lambda path: (
                {"mode": 755, "user": "root", "group": "root"} if path.endswith(".d") else None
            ),
        },
        "lab-1",
    )
    assert not p.op("base | Harden sshd").commands
    assert not p.has("base | Check and reload sshd")

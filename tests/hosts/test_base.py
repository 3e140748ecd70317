"""The base deploy at operation level: site description + facts -> commands."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from pathlib import Path

from mlsite.hosts import operations
from mlsite.hosts.deploys import base
from mlsite.hosts.deploys.base import apply as base_apply
from mlsite.hosts.deploys.base import render
from mlsite.hosts.facts import Account, AccountState, TextFile, TextFileState
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
    assert "nvmf-autoconnect.service" in params.masked_units


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
    assert params.masked_units == ()  # real hosts mask nothing


def test_fresh_debian_host_gets_every_step(lab_site: SiteSpec) -> None:
    p = plan(base_apply.base, _params(lab_site), {"OsRelease": DEBIAN_12}, "lab-1")
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
    p = plan(base_apply.base, _params(lab_site), {"OsRelease": UBUNTU_24}, "lab-1")
    assert "pool ntp.ubuntu.com" in p.upload("/etc/chrony/chrony.conf")


def test_sshd_is_not_reloaded_when_the_dropin_is_in_place(lab_site: SiteSpec) -> None:
    params = _params(lab_site)
    dropin = render.sshd_dropin(params.permit_root_login)

    p = plan(
        base_apply.base,
        params,
        {
            "OsRelease": DEBIAN_12,
            "TextFile": lambda path: (
                TextFileState(
                    parent_exists=True,
                    exists=True,
                    owner="root:root",
                    mode=0o644,
                    sha1=hashlib.sha1(dropin.encode()).hexdigest(),
                )
                if path == base.SSHD_DROPIN
                else TextFileState()
            ),
        },
        "lab-1",
    )
    assert not p.op("base | Harden sshd").commands
    assert not p.has("base | Check and reload sshd")


def _alice(**changes: object) -> AccountState:
    keys = "ssh-ed25519 AAAAC3Nza alice@laptop\n"
    converged = AccountState(
        uid=2001,
        gid=2001,
        home="/home/alice",
        shell="/bin/bash",
        groups=("mlsite-users",),
        group_gid=2001,
        home_exists=True,
        ssh_dir="alice:alice:700",
        authorized_keys=f"alice:alice:600:{hashlib.sha1(keys.encode()).hexdigest()}",
    )
    return dataclasses.replace(converged, **changes)  # type: ignore[arg-type]


def _account_plan(have: AccountState) -> list[str]:
    def deploy(_: object) -> None:
        operations.account(
            name="Create user alice",
            user="alice",
            uid=2001,
            groups=("mlsite-users",),
            ssh_keys=("ssh-ed25519 AAAAC3Nza alice@laptop",),
        )

    p = plan(deploy, None, {"Account": lambda user: have if user == "alice" else None})
    assert p.error is None
    return p.op("Create user alice").commands


def test_converged_account_plans_nothing() -> None:
    assert _account_plan(_alice()) == []


def test_missing_account_is_created_with_its_group_home_and_keys() -> None:
    commands = _account_plan(AccountState())
    assert commands[0] == "groupadd --gid 2001 alice"
    assert commands[1] == (
        "useradd --uid 2001 --gid alice --home-dir /home/alice --create-home "
        "--shell /bin/bash --groups mlsite-users alice"
    )
    assert commands[2] == "install -d -m 0700 -o alice -g alice /home/alice/.ssh"
    assert (
        "alice@laptop" in commands[3]
        and "chmod 0600 /home/alice/.ssh/authorized_keys" in commands[3]
    )


def test_account_drift_is_put_back_field_by_field() -> None:
    commands = _account_plan(
        _alice(groups=("mlsite-users", "sudo"), shell="/bin/sh", authorized_keys=None)
    )
    assert commands[0] == "usermod --shell /bin/bash --groups mlsite-users alice"
    assert "> /home/alice/.ssh/authorized_keys" in commands[1] and len(commands) == 2
    assert _account_plan(_alice(group_gid=3000))[0] == "groupmod --gid 2001 alice"
    assert _account_plan(_alice(home_exists=False))[0].startswith(
        "install -d -m 0700 -o alice -g alice /home/alice && cp -rT /etc/skel /home/alice"
    )


def test_account_fact_parses_getent_id_and_stat_output() -> None:
    sha = "3f786850e387550fdab836ed7e6dc881de23001b"
    state = Account().process(
        [
            "passwd alice:x:2001:2001::/home/alice:/bin/bash",
            "groups alice mlsite-users video",
            "home yes",
            "ssh alice:alice:700",
            "keys alice:alice:600",
            f"keysha1 {sha}  -",
            "group alice:x:2001:",
        ]
    )
    assert state == AccountState(
        uid=2001,
        gid=2001,
        home="/home/alice",
        shell="/bin/bash",
        groups=("mlsite-users", "video"),
        group_gid=2001,
        home_exists=True,
        ssh_dir="alice:alice:700",
        authorized_keys=f"alice:alice:600:{sha}",
    )
    assert Account().process([]) == AccountState()
    assert Account().process(["group alice:x:2005:"]) == AccountState(group_gid=2005)
    assert Account().process(["group "]) == AccountState()  # getent found no group


def _sh(command: str) -> list[str]:
    """What ``command`` prints under this machine's ``sh``, as pyinfra hands it to a fact."""
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


def test_account_fact_command_reads_a_real_account(tmp_path: Path) -> None:
    state = Account().process(_sh(Account().command("root")))
    assert (state.uid, state.gid, state.home, state.group_gid) == (0, 0, "/root", 0)
    assert state.home_exists
    missing = Account().process(_sh(Account().command("no-such-user-mlsite")))
    assert missing == AccountState()


def test_text_file_fact_command_reads_a_real_file(tmp_path: Path) -> None:
    f = tmp_path / "f.conf"
    f.write_text("a = 1\n")
    f.chmod(0o640)
    state = TextFile().process(_sh(TextFile().command(str(f))))
    assert state.sha1 == SHA_A1 and state.mode == 0o640 and state.exists and state.parent_exists
    assert state.owner is not None and state.owner.count(":") == 1
    assert TextFile().process(_sh(TextFile().command(str(tmp_path)))).other
    gone = TextFile().process(_sh(TextFile().command(str(tmp_path / "none" / "x"))))
    assert gone == TextFileState()


def _file_plan(have: TextFileState, mode: str = "640") -> list[str]:
    def deploy(_: object) -> None:
        operations.text_file(name="Put f", path="/etc/x/f.conf", content="a = 1\n", mode=mode)

    p = plan(deploy, None, {"TextFile": lambda path: have})
    assert p.error is None
    return p.op("Put f").commands


SHA_A1 = hashlib.sha1(b"a = 1\n").hexdigest()


def test_text_file_in_place_plans_nothing_and_drift_is_put_back() -> None:
    good = TextFileState(
        parent_exists=True, exists=True, owner="root:root", mode=0o640, sha1=SHA_A1
    )
    assert _file_plan(good) == []
    assert _file_plan(dataclasses.replace(good, mode=0o644)) == ["chmod 640 /etc/x/f.conf"]
    assert _file_plan(dataclasses.replace(good, owner="bob:root")) == [
        "chown root:root /etc/x/f.conf"
    ]
    assert _file_plan(dataclasses.replace(good, sha1="0" * 40)) == [
        "upload /etc/x/f.conf",
        "chown root:root /etc/x/f.conf",
        "chmod 640 /etc/x/f.conf",
    ]


def test_text_file_creates_its_directory_when_missing() -> None:
    assert _file_plan(TextFileState())[:2] == [
        "mkdir -p /etc/x && chown root:root /etc/x",
        "upload /etc/x/f.conf",
    ]


def test_text_file_fact_parses_stat_and_sha1() -> None:
    assert TextFile().process(
        ["parent", "stat root:adm:640", f"sha1 {SHA_A1}  -"]
    ) == TextFileState(parent_exists=True, exists=True, owner="root:adm", mode=0o640, sha1=SHA_A1)
    assert TextFile().process(["parent", "other"]) == TextFileState(parent_exists=True, other=True)
    assert TextFile().process([]) == TextFileState()


def _with_dns(site: SiteSpec) -> SiteSpec:
    info = site.site.model_copy(update={"dns": ("10.77.0.53", "10.77.0.54")})
    return site.model_copy(update={"site": info})


def test_no_site_dns_leaves_the_resolvers_alone(lab_site: SiteSpec) -> None:
    p = plan(base_apply.base, _params(lab_site), {"OsRelease": DEBIAN_12}, "lab-1")
    assert p.error is None
    assert "resolv" not in p.all_commands


def test_site_dns_is_written_to_a_plain_resolv_conf(lab_site: SiteSpec) -> None:
    params = _params(_with_dns(lab_site))
    p = plan(base_apply.base, params, {"OsRelease": DEBIAN_12, "Link": None}, "lab-1")
    assert p.error is None
    assert p.upload(base.RESOLV_CONF).splitlines()[1:] == [
        "search lab.mlsite.test",
        "nameserver 10.77.0.53",
        "nameserver 10.77.0.54",
    ]
    assert base.RESOLVED_DROPIN not in p.all_commands


def test_site_dns_goes_to_systemd_resolved_when_it_owns_resolv_conf(lab_site: SiteSpec) -> None:
    stub = {"link_target": "../run/systemd/resolve/stub-resolv.conf", "user": "root"}
    params = _params(_with_dns(lab_site))
    p = plan(base_apply.base, params, {"OsRelease": UBUNTU_24, "Link": stub}, "lab-1")
    assert p.error is None
    dropin = p.upload(base.RESOLVED_DROPIN)
    assert "DNS=10.77.0.53 10.77.0.54" in dropin and "Domains=lab.mlsite.test" in dropin
    assert f"upload {base.RESOLV_CONF}" not in p.all_commands  # resolved's link is kept


def test_site_dns_refuses_a_resolv_conf_someone_else_manages(lab_site: SiteSpec) -> None:
    other = {"link_target": "/run/resolvconf/resolv.conf", "user": "root"}
    params = _params(_with_dns(lab_site))
    p = plan(base_apply.base, params, {"OsRelease": DEBIAN_12, "Link": other}, "lab-1")
    assert isinstance(p.error, RuntimeError)
    assert "site.dns" in str(p.error) and "/run/resolvconf/resolv.conf" in str(p.error)


def test_a_user_left_out_of_the_description_keeps_their_account_and_home(
    lab_site: SiteSpec,
) -> None:
    """Removing a user never removes their account or home on a host: the base deploy only
    creates and corrects the accounts it is given (the review flags the removal)."""
    params = _params(lab_site).model_copy(update={"accounts": ()})
    alice = AccountState(uid=2001, gid=2001, home="/home/alice", home_exists=True)
    facts = {"OsRelease": DEBIAN_12, "Account": lambda user: alice if user == "alice" else None}
    p = plan(base_apply.base, params, facts, "lab-1")
    assert p.error is None
    assert "alice" not in p.all_commands
    assert not [c for c in p.all_commands.splitlines() if c.startswith(("userdel", "rm "))]
    facts["GroupMembers"] = lambda group: ["alice"] if group == "mlsite-users" else []
    p = plan(base_apply.base, params, facts, "lab-1")
    assert p.notices == (
        "user alice is no longer described: the account and /home/alice stay as they are "
        "(still in mlsite-users); remove them by hand once their data is saved",
    )
    assert "alice" not in p.all_commands

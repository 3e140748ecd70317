"""The host layer for real, on the session lab's hosts (systemd-nspawn machines over SSH).

Each role is applied through the runner subprocess exactly as the Pulumi layer calls it,
then applied again (0 changed operations on every host), and drift made by hand shows up
in a dry run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlsite.hosts.deploys import get as get_deploy
from mlsite.hosts.params import dump_params
from mlsite.hosts.runner import run
from mlsite.spec import SiteSpec, load_stack
from tests.conftest import LabSession

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("base", "network", "disks", "containerd", "monitoring_agent")
DISK = "/dev/disk/by-id/lab-osd-0"


def _site() -> SiteSpec:
    return load_stack("lab").site


def _request(lab: LabSession, role: str, mode: str, params: Any = None) -> dict[str, Any]:
    site = _site()
    spec = get_deploy(role)
    if params is None:
        params = spec.params_for(site, site.hosts)
    return {
        "mode": mode,
        "role": role,
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "port": lab.ssh_port,
                "user": lab.ssh_user,
                "key_file": str(lab.ssh_key),
            }
            for h in lab.hosts
        ],
        "params": dump_params(params, reveal=True),
    }


def _changed(result: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name: [op["name"] for op in host["operations"] if op["changed"]]
        for name, host in result["hosts"].items()
    }


@pytest.fixture(scope="module")
def converged(lab: LabSession) -> LabSession:
    """Every role of this issue applied once to the lab hosts."""
    for role in ROLES:
        result = run(_request(lab, role, "apply"))
        assert result["ok"], (role, {n: h["errors"] for n, h in result["hosts"].items()})
    return lab


def test_hosts_run_the_release_the_session_asked_for(lab: LabSession) -> None:
    from tests.conftest import lab_test_debian

    for host in ("lab-1", "lab-3"):
        release = lab.run(host, ". /etc/os-release && echo $ID $VERSION_ID").stdout.split()
        assert release == ["debian", str(lab_test_debian())]


def test_second_apply_changes_nothing(converged: LabSession) -> None:
    for role in ROLES:
        result = run(_request(converged, role, "apply"))
        assert result["ok"], (role, result)
        assert all(h["changed"] == 0 for h in result["hosts"].values()), (role, _changed(result))


def test_base_layer_took_effect(converged: LabSession) -> None:
    lab = converged
    for host in lab.hosts:
        sshd = lab.run(host.name, "sshd -T").stdout
        assert "passwordauthentication no" in sshd and "permitrootlogin without-password" in sshd
        assert lab.run(host.name, "id -u alice").stdout.strip() == "2001"
        assert (
            "10.77.0.13 lab-3.lab.mlsite.test lab-3" in lab.run(host.name, "cat /etc/hosts").stdout
        )
        assert lab.run(host.name, "readlink /etc/localtime").stdout.strip().endswith("Asia/Tokyo")
        assert lab.run(host.name, "sysctl -n net.core.somaxconn").stdout.strip() == "4096"
        assert lab.run(host.name, "visudo -c").returncode == 0


def test_network_bond_is_staged_and_parsed_by_ifupdown_not_activated(
    converged: LabSession,
) -> None:
    lab = converged
    # this kernel has no bonding driver: the bond is rendered, staged and parsed, not
    # installed where networking.service would try to raise it at boot
    staged = "/etc/mlsite/network/50-mlsite"
    out = lab.run("lab-1", f"ifquery --interfaces={staged} bond0").stdout
    assert "bond-slaves: eth1 eth2" in out and "bond-mode: balance-alb" in out
    # ifquery prints the address with its prefix or with a separate netmask, by version
    assert "address: 10.77.0.11" in out
    assert "address: 10.77.0.11/24" in out or "netmask: 255.255.255.0" in out
    lab.run("lab-1", f"ifup --no-act --interfaces={staged} bond0")
    for host in ("lab-1", "lab-2"):
        installed = lab.run(host, "test -e /etc/network/interfaces.d/50-mlsite", check=False)
        assert installed.returncode != 0
    assert lab.run("lab-1", "systemctl is-failed networking", check=False).stdout.strip() != (
        "failed"
    )


def test_units_with_nothing_to_do_in_the_lab_are_masked(converged: LabSession) -> None:
    for host in converged.hosts:
        for unit in ("nvmf-autoconnect.service", "run-rpc_pipefs.mount"):
            state = converged.run(host.name, f"systemctl is-enabled {unit}", check=False)
            assert state.stdout.strip() == "masked", (host.name, unit, state.stdout)


def test_services_run(converged: LabSession) -> None:
    for host in converged.hosts:
        for unit in ("containerd", "prometheus-node-exporter"):
            assert (
                converged.run(host.name, f"systemctl is-active {unit}").stdout.strip() == "active"
            )
        assert (
            "node_"
            in converged.run(
                host.name,
                # the exporter lists other collectors (apt_, go_) before node_: read it all
                'python3 -c "import urllib.request as u;'
                "print(u.urlopen('http://127.0.0.1:9100/metrics').read().decode())\" | grep -m1 '^node_'",
            ).stdout
        )


def test_dry_run_reports_manual_drift(converged: LabSession) -> None:
    """Also when the facts come from the batch the runner replays at its start
    (``mlsite.hosts.early``): what it replays is the question, the answers are read fresh."""
    from mlsite.hosts import early

    lab = converged
    for _ in range(2):  # a converged host's request plan holds its one batch after this
        assert run(_request(lab, "base", "dry-run"))["ok"]
    directory = early.plans_dir()
    assert directory is not None
    request = _request(lab, "base", "dry-run")
    for target in request["hosts"]:
        saved = early.load(early.plan_file(directory, "base", target, request["params"]))
        assert saved is not None and saved.replayable, target["name"]
    lab.run("lab-2", "echo 'PasswordAuthentication yes' > /etc/ssh/sshd_config.d/00-mlsite.conf")
    try:
        result = run(_request(lab, "base", "dry-run"))
        changed = _changed(result)
        assert result["ok"] and result["mode"] == "dry-run"
        assert any(name.startswith("base | Harden sshd") for name in changed["lab-2"]), changed
        assert changed["lab-1"] == [] and changed["lab-3"] == []
        # the dry run changed nothing
        assert "yes" in lab.run("lab-2", "cat /etc/ssh/sshd_config.d/00-mlsite.conf").stdout
    finally:
        healed = run(_request(lab, "base", "apply"))
    assert healed["ok"] and healed["hosts"]["lab-2"]["changed"] >= 1
    assert "passwordauthentication no" in lab.run("lab-2", "sshd -T").stdout


def test_disk_with_a_filesystem_is_refused_without_wipe(converged: LabSession) -> None:
    lab = converged
    lab.run(
        "lab-2", "command -v mkfs.ext4 >/dev/null || apt-get install -y -q e2fsprogs >/dev/null"
    )
    lab.run("lab-2", f"mkfs.ext4 -q -F -L keepme {DISK}")
    site = _site()
    role = get_deploy("disks")
    params = role.params_for(site, site.hosts)
    never = params.model_copy(
        update={
            "hosts": {
                n: tuple(d.model_copy(update={"wipe": "never"}) for d in ds)
                for n, ds in params.hosts.items()
            }
        }
    )
    refused = run(_request(lab, "disks", "apply", never))
    assert not refused["ok"]
    errors = refused["hosts"]["lab-2"]["errors"]
    assert errors and "holds data" in errors[0] and "ext4" in errors[0], errors
    assert refused["hosts"]["lab-2"]["changed"] == 0
    assert refused["hosts"]["lab-1"]["errors"] == [] and refused["hosts"]["lab-3"]["errors"] == []
    assert lab.run("lab-2", f"blkid -p -s LABEL -o value {DISK}").stdout.strip() == "keepme"

    wiped = run(_request(lab, "disks", "apply"))  # the lab site says `wipe: allowed`
    assert wiped["ok"] and wiped["hosts"]["lab-2"]["changed"] == 1
    assert lab.run("lab-2", f"wipefs -n {DISK}").stdout.strip() == ""
    again = run(_request(lab, "disks", "apply"))
    assert all(h["changed"] == 0 for h in again["hosts"].values())


def test_pyinfra_cli_runs_a_deploy_file_with_the_site_inventory(converged: LabSession) -> None:
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/pyinfra"),
            "-y",
            "mlsite/hosts/inventory.py",
            "mlsite/hosts/deploys/base/apply.py",
        ],
        cwd=ROOT,
        env={**os.environ, "MLSITE_STACK": "lab", "MLSITE_SSH_KEY": str(converged.ssh_key)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "lab-3" in proc.stdout + proc.stderr  # pyinfra 3 reports on stderr


def test_batched_fact_reads_plan_what_one_by_one_reads_plan(
    converged: LabSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlsite.hosts.prefetch serves the prepare stage from a few batched reads per host: with drift
    made by hand, every role's dry run plans exactly what reading each fact alone plans, and
    what pyinfra's own connector plans, whether the batch comes from the fact plan the apply
    remembered (one SSH command on a converged host) or from discovery rounds."""
    from mlsite.hosts import openssh
    from mlsite.hosts.contract import RunRequest
    from mlsite.hosts.execute import execute, target_inventory

    lab = converged
    sent: dict[str, list[str]] = {}
    real_run = openssh.OpenSSHConnector.run_shell_command

    def counted(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        sent.setdefault(self.host.name, []).append(str(command)[-200:])
        return real_run(self, command, *args, **kwargs)

    monkeypatch.setattr(openssh.OpenSSHConnector, "run_shell_command", counted)
    plans = os.environ["MLSITE_FACT_PLANS"]  # the session's; the loop below switches it off
    lab.run(
        "lab-3",
        "chmod 600 /etc/sysctl.d/90-mlsite.conf && usermod -s /bin/sh alice && "
        "echo 'server 192.0.2.1' >> /etc/chrony/chrony.conf",
    )
    try:
        for role in ROLES:
            request = RunRequest.parse(_request(lab, role, "dry-run"))
            spec = get_deploy(role)

            def dry_run(
                batched: bool, shared: bool, plans: str, request: Any = request, spec: Any = spec
            ) -> dict[str, Any]:
                monkeypatch.setenv("MLSITE_FACT_PLANS", plans)
                inventory = target_inventory(request.hosts, shared_ssh=shared)
                params = spec.params_model.model_validate(request.params)
                return execute(
                    inventory, spec.function(), params, "dry-run", prefetch_facts=batched
                )

            # batched from the plan the earlier runs remembered: the converging apply (runner
            # subprocess) learned the commands of a host not yet configured; the first run on
            # the configured host adds what it reads there (e.g. checksums of existing files),
            # and from then on a host's facts take one SSH command
            dry_run(True, True, plans)
            sent.clear()
            remembered = dry_run(True, True, plans)
            if spec.batch_facts:
                assert len(sent["lab-1"]) == 1, (role, sent["lab-1"])
            # batched from discovery; one by one over shared OpenSSH connections; one by one
            # over pyinfra's own paramiko connector
            discovered = dry_run(True, True, "off")
            alone = dry_run(False, True, "off")
            paramiko = dry_run(False, False, "off")
            assert remembered == discovered == alone == paramiko, role
            if role == "base":
                changed = [op.name for op in remembered["lab-3"].operations if op.changed]
                for op in ("Persist kernel settings", "Create user alice", "Configure chrony"):
                    assert any(op in name for name in changed), (op, changed)
                assert not any(op.changed for op in remembered["lab-1"].operations)
    finally:
        healed = run(_request(lab, "base", "apply"))
    assert healed["ok"] and healed["hosts"]["lab-3"]["changed"] >= 3


def test_facts_read_together_equal_each_read_alone_on_a_lab_host(converged: LabSession) -> None:
    """Combinable facts (``mlsite.hosts.facts_together.COMBINABLE``) on a configured host: site users with
    and without authorized_keys, root, a missing user; the base role's files, a directory,
    a missing file. The batch's rebuilt lines equal each command's own output."""
    from mlsite.hosts import prefetch
    from mlsite.hosts.facts import Account, TextFile

    lab = converged
    lab.run(
        "lab-3",
        "install -d -m 700 -o alice -g alice ~alice/.ssh && "
        "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheLabTestOnly000000000000 a@lab' "
        "> ~alice/.ssh/authorized_keys && chown alice:alice ~alice/.ssh/authorized_keys",
    )
    try:
        commands = [Account().command(u) for u in ("alice", "bob", "root", "nobody-here")]
        commands += [
            TextFile().command(p)
            for p in ("/etc/chrony/chrony.conf", "/etc/sudoers.d/mlsite", "/etc", "/etc/none")
        ]
        assert sum(isinstance(u, prefetch._Together) for u in prefetch._units(commands)) == 2
        token = "@@mlsite-fact-lab"
        together = lab.run("lab-3", prefetch.batch_script(commands, token)).stdout
        parsed = prefetch.parse_batch(together.splitlines(), token, commands)
        assert sorted(parsed) == list(range(len(commands)))
        for i, command in enumerate(commands):
            alone = lab.run("lab-3", command).stdout.splitlines()
            assert parsed[i][0] and parsed[i][1].stdout_lines == alone, command
        alice = Account().process(parsed[0][1].stdout_lines)
        assert alice.ssh_dir == "alice:alice:700" and alice.authorized_keys is not None
    finally:
        lab.run("lab-3", "rm -rf ~alice/.ssh")

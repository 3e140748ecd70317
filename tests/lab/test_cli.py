"""`mlsite lab` errors: one line, exit code 2, no traceback (no root, no hosts needed)."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlsite.lab import LabError, LabHost, LabPlan
from mlsite.lab.cli import app
from mlsite.lab.net import check_clashes
from mlsite.spec import stack_path

runner = CliRunner()


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlsite lab: error: ")
    return lines[0]


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSITE_LAB_DIR", str(tmp_path / "state"))


def test_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    for command in (["up"], ["down"], ["crash", "lab-1"], ["partition", "lab-1", "lab-2"]):
        assert "needs root" in one_line_error(command)


def test_missing_tools_name_their_debian_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setenv("PATH", str(tmp_path))
    line = one_line_error(["up"])
    assert "systemd-nspawn" in line and "apt-get install" in line and "systemd-container" in line


def test_hosts_not_marked_lab(tmp_path: Path) -> None:
    data = yaml.safe_load(stack_path("lab").read_text())
    host = data["config"]["mlsite:site"]["hosts"][2]
    host["lab"] = False
    del host["bmc"]
    stack = tmp_path / "Pulumi.notlab.yaml"
    stack.write_text(yaml.safe_dump(data))
    assert "not marked `lab: true`" in one_line_error(["up", "--file", str(stack)])


def test_unknown_stack() -> None:
    assert "no stack 'nosuch'" in one_line_error(["up", "--stack", "nosuch"])


def test_commands_without_a_lab_say_so() -> None:
    assert "no lab is up" in one_line_error(["ssh", "lab-1"])


def test_network_clashing_with_this_machine_is_refused() -> None:
    links = json.loads(
        subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    )
    own = next(
        ipaddress.IPv4Interface(f"{a['local']}/{a['prefixlen']}")
        for link in links
        for a in link.get("addr_info", [])
        if a.get("family") == "inet"
        and a.get("scope") == "global"
        and not link["ifname"].startswith("mls-")
    )
    network = own.network if own.network.prefixlen <= 29 else own.network.supernet(new_prefix=24)
    free = next(a for a in network.hosts() if a != own.ip)
    plan = LabPlan(
        network=network,
        hosts=(LabHost("a", free),),
        gateway=next(a for a in network.hosts() if a not in (own.ip, free)),
    )
    with pytest.raises(LabError, match=f"clashes with this machine's own networks.*{own.ip}"):
        check_clashes(plan)


def test_every_command_and_option_has_help() -> None:
    for command in app.registered_commands:
        assert command.callback is not None and command.callback.__doc__, command.name
    result = runner.invoke(app, ["up", "--help"])
    assert (
        result.exit_code == 0 and "--stack" in result.output and "--boot-timeout" in result.output
    )

"""The fence agent's interface, as pacemaker's fencer uses it (no lab needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mlsite.lab import fence_agent


def test_options_come_from_stdin_lines_and_argv() -> None:
    stdin = "action=off\nport=lab-2\nnodename=lab-2\n# comment\n"
    assert fence_agent.parse_options([], stdin) == {
        "action": "off",
        "plug": "lab-2",
        "nodename": "lab-2",
    }
    assert fence_agent.parse_options(["-o", "status", "-n", "lab-1"], "") == {
        "action": "status",
        "plug": "lab-1",
    }
    assert fence_agent.parse_options(["--action=on", "--plug=lab-3"], "") == {
        "action": "on",
        "plug": "lab-3",
    }


def test_metadata_is_valid_fence_agent_xml(capsys: pytest.CaptureFixture[str]) -> None:
    assert fence_agent.main(["-o", "metadata"], "") == 0
    root = ET.fromstring(capsys.readouterr().out)
    assert root.get("name") == "fence_mlsite_lab"
    params = {p.get("name") for p in root.iter("parameter")}
    assert {"action", "plug", "port", "ipaddr", "password"} <= params
    assert {a.get("name") for a in root.iter("action")} >= {
        "on",
        "off",
        "reboot",
        "status",
        "monitor",
        "list",
    }


def test_unknown_action_and_missing_daemon_fail(capsys: pytest.CaptureFixture[str]) -> None:
    assert fence_agent.main(["-o", "explode"], "") == 1
    # no /etc/mlsite-lab/fence.conf outside a lab host, and no ipaddr/password given
    assert fence_agent.main([], "action=off\nplug=lab-1\nipaddr=\n") == 1
    assert "Failed" in capsys.readouterr().err

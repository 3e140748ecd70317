"""mlsite.hosts.operations and the facts they read: the commands each plans, and each fact's
command run for real on this machine against what pyinfra's own fact reads."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import Timezone

from mlsite.hosts import operations
from mlsite.hosts.facts import (
    AptListsFresh,
    GroupId,
    HostName,
    InstalledPackages,
    OsRelease,
    TimeZone,
)
from tests.hosts.fakehost import Plan, plan


def _read(fact: FactBase[Any], *args: Any) -> Any:
    """The fact's command run by sh here, its output parsed by the fact (ours and
    pyinfra's alike)."""
    command = fact.command(*args)
    if isinstance(command, StringCommand):
        command = command.get_raw_value()
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    return fact.process(proc.stdout.splitlines())


def _plan(call: Callable[[], Any], facts: dict[str, Any]) -> Plan:
    return plan(lambda _: call(), None, facts)


# --- the facts, for real ---------------------------------------------------------------


def test_host_name_is_what_uname_prints() -> None:
    uname = subprocess.run(["uname", "-n"], capture_output=True, text=True, check=True)
    assert _read(HostName()) == uname.stdout.strip() != ""


def test_time_zone_equals_pyinfras_fact() -> None:
    assert _read(TimeZone()) == _read(Timezone())


def test_installed_packages_agree_with_dpkg_l() -> None:
    every = _read(DebPackages())
    asked = ("bash", "coreutils", "dpkg", "mlsite-no-such-package", "hello")
    have = _read(InstalledPackages(), asked)
    assert {p for p in asked if p in have} == {p for p in asked if p in every}
    assert "bash" in have and "mlsite-no-such-package" not in have


def test_group_id() -> None:
    assert _read(GroupId(), "root") == 0
    assert _read(GroupId(), "mlsite-no-such-group") is None


def test_apt_lists_are_fresh_only_within_the_cache_time(tmp_path: Path) -> None:
    stamp = tmp_path / "update-success-stamp"
    assert _read(AptListsFresh(), str(stamp), 3600) is False  # never refreshed
    stamp.touch()
    assert _read(AptListsFresh(), str(stamp), 3600) is True
    two_hours_ago = time.time() - 7200
    os.utime(stamp, (two_hours_ago, two_hours_ago))
    assert _read(AptListsFresh(), str(stamp), 3600) is False
    assert _read(AptListsFresh(), str(stamp), 3 * 3600) is True


def test_os_release_is_read_whole_also_without_a_final_newline(tmp_path: Path) -> None:
    text = 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\nPRETTY_NAME="a \\\\ b"'
    release = tmp_path / "os-release"
    release.write_text(text)  # no newline at the end
    command = OsRelease().command().replace("/etc/os-release", str(release))
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == text.splitlines()
    here = _read(OsRelease())
    assert here["name"] == "Debian" and here["major"] == 12


# --- the operations ----------------------------------------------------------------------


def test_packages_installs_only_what_is_missing_as_pyinfra_would() -> None:
    wanted = ["chrony", "sudo"]
    p = _plan(
        lambda: operations.packages(name="p", packages=wanted),
        {"InstalledPackages": lambda packages: frozenset({"sudo"})},
    )
    assert p.op("p").commands == [
        'DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::="--force-confdef" '
        '-o Dpkg::Options::="--force-confold" install chrony'
    ]
    done = _plan(
        lambda: operations.packages(name="p", packages=wanted),
        {"InstalledPackages": frozenset(wanted)},
    )
    assert done.changed == []


def test_packages_refuses_versions_and_paths() -> None:
    p = _plan(lambda: operations.packages(name="p", packages=["containerd=1.7"]), {})
    assert isinstance(p.error, ValueError) and "containerd=1.7" in str(p.error)


def test_apt_update_runs_only_when_the_lists_are_stale() -> None:
    stale = _plan(lambda: operations.apt_update(name="u", cache_time=60), {})
    assert stale.op("u").commands == ["apt-get update", f"touch {operations.APT_STAMP}"]
    asked: list[Any] = []
    fresh = _plan(
        lambda: operations.apt_update(name="u", cache_time=60),
        {"AptListsFresh": lambda stamp, seconds: asked.append(seconds) or True},
    )
    assert fresh.changed == [] and set(asked) == {60}


@pytest.mark.parametrize("hostnamectl", ["/usr/bin/hostnamectl", None])
def test_hostname(hostnamectl: str | None) -> None:
    facts: dict[str, Any] = {"HostName": "old", "Which": lambda command: hostnamectl}
    p = _plan(lambda: operations.hostname(name="h", hostname="lab-1"), facts)
    if hostnamectl:
        assert p.op("h").commands == ["hostnamectl set-hostname lab-1"]
    else:
        assert p.op("h").commands[0] == "hostname lab-1"
        assert p.upload("/etc/hostname") == "lab-1\n"
    same = _plan(lambda: operations.hostname(name="h", hostname="old"), facts)
    assert (same.changed == []) is bool(hostnamectl)  # without hostnamectl: /etc/hostname


@pytest.mark.parametrize("timedatectl", ["/usr/bin/timedatectl", None])
def test_timezone(timedatectl: str | None) -> None:
    facts: dict[str, Any] = {"TimeZone": "Etc/UTC", "Which": lambda command: timedatectl}
    p = _plan(lambda: operations.timezone(name="t", timezone="Asia/Tokyo"), facts)
    if timedatectl:
        assert p.op("t").commands == ["timedatectl set-timezone Asia/Tokyo"]
    else:
        assert p.op("t").commands == [
            "ln -sf /usr/share/zoneinfo/Asia/Tokyo /etc/localtime",
            "echo Asia/Tokyo > /etc/timezone",
        ]
    assert _plan(lambda: operations.timezone(name="t", timezone="Etc/UTC"), facts).changed == []


@pytest.mark.parametrize(
    ("have", "commands"),
    [(None, ["groupadd --gid 1999 users2"]), (1000, ["groupmod --gid 1999 users2"]), (1999, [])],
)
def test_group(have: int | None, commands: list[str]) -> None:
    p = _plan(lambda: operations.group(name="g", group="users2", gid=1999), {"GroupId": have})
    assert [c for o in p.ops for c in o.commands] == commands

"""The lab plan: pure, from the site description (no root, no hosts)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlsite.lab import LabDisk, LabError, LabHost, LabPlan, plan_lab
from mlsite.spec import load_stack, stack_path, validate

NET = ipaddress.IPv4Network("10.77.0.0/24")


def test_lab_stack_becomes_three_hosts_with_an_osd_disk_each() -> None:
    plan = plan_lab(load_stack("lab").site)
    assert plan.network == NET and str(plan.gateway) == "10.77.0.1"
    assert [(h.name, str(h.address)) for h in plan.hosts] == [
        ("lab-1", "10.77.0.11"),
        ("lab-2", "10.77.0.12"),
        ("lab-3", "10.77.0.13"),
    ]
    for host in plan.hosts:
        assert host.disks == (LabDisk("/dev/disk/by-id/lab-osd-0", 10),)
        assert (host.ssh_user, host.ssh_port) == ("root", 22)


def test_hosts_not_marked_lab_are_refused() -> None:
    with open(stack_path("lab")) as handle:
        data: dict[str, Any] = yaml.safe_load(handle)["config"]["mlsite:site"]
    data["hosts"][2]["lab"] = False
    del data["hosts"][2]["bmc"]
    site = validate(data, plaintext_secrets=True)
    with pytest.raises(LabError, match=r"not marked `lab: true`.*: lab-3$"):
        plan_lab(site)


def test_kernel_names_fit_and_macs_are_fixed_and_distinct() -> None:
    hosts = tuple(LabHost(f"host-with-a-long-name-{i}", NET[11 + i]) for i in range(20))
    plan = LabPlan(network=NET, hosts=hosts)
    assert all(len(h.veth) <= 15 for h in plan.hosts)
    assert len({h.veth for h in plan.hosts}) == 20
    assert len({h.mac for h in plan.hosts}) == 20
    assert hosts[0].mac == LabHost("host-with-a-long-name-0", NET[99]).mac
    assert all(int(h.mac[:2], 16) & 0b10 for h in plan.hosts)  # locally administered


def test_disk_ids_become_by_id_paths() -> None:
    assert LabDisk("lab-osd-1").path == "/dev/disk/by-id/lab-osd-1"
    assert LabDisk("/dev/disk/by-id/x").path == "/dev/disk/by-id/x"
    assert LabDisk("/dev/disk/by-id/x").slug == "disk_by-id_x"


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ((LabHost("a", NET[11]), LabHost("b", NET[11])), "already taken"),
        ((LabHost("a", NET[1]),), "already taken"),
        ((LabHost("a", ipaddress.IPv4Address("10.0.0.5")),), "not usable"),
        ((LabHost("a", NET[255]),), "not usable"),
        ((LabHost("a", NET[11]), LabHost("a", NET[12])), "appears twice"),
        ((LabHost("Bad_Name", NET[11]),), "DNS label"),
        ((LabHost("a", NET[11], disks=(LabDisk("d"), LabDisk("/dev/disk/by-id/d"))),), "same id"),
    ],
)
def test_rejects_unusable_plans(hosts: tuple[LabHost, ...], message: str) -> None:
    with pytest.raises(LabError, match=message):
        LabPlan(network=NET, hosts=hosts)


def test_debian_release_is_chosen_per_lab_and_checked() -> None:
    site = load_stack("lab").site
    assert plan_lab(site).suite == "bookworm"
    assert plan_lab(site, debian=13).suite == "trixie"
    with pytest.raises(LabError, match=r"Debian 12 \(bookworm\), 13 \(trixie\), not Debian 11"):
        plan_lab(site, debian=11)


def test_state_keeps_the_release_and_reads_older_states_as_debian_12(tmp_path: Path) -> None:
    from mlsite.lab.paths import LabDirs
    from mlsite.lab.state import LabState, load_state, save_state

    dirs = LabDirs(state=tmp_path / "state", cache=tmp_path / "cache")
    plan = plan_lab(load_stack("lab").site, debian=13)
    save_state(dirs, LabState(plan=plan))
    assert load_state(dirs).plan == plan
    saved = json.loads(dirs.state_file.read_text())
    del saved["plan"]["debian"]  # a state written before releases were selectable
    dirs.state_file.write_text(json.dumps(saved))
    assert load_state(dirs).plan == dataclasses.replace(plan, debian=12)

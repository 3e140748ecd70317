"""The inventory: groups by role, typed host data, lab SSH key, and the pyinfra CLI path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mlsite.hosts.deploys import get as get_deploy
from mlsite.hosts.deploys import names as deploy_names
from mlsite.hosts.inventory import MlsiteHostData, build_inventory
from mlsite.spec import SiteSpec

ROOT = Path(__file__).resolve().parents[2]


def test_groups_by_role_and_typed_data(lab_site: SiteSpec) -> None:
    os.environ["MLSITE_SSH_KEY"] = "/keys/lab"
    try:
        inventory = build_inventory(lab_site)
    finally:
        del os.environ["MLSITE_SSH_KEY"]
    assert [h.name for h in inventory.get_group("ceph_mgr")] == ["lab-1", "lab-2"]
    assert [h.name for h in inventory.get_group("registry")] == ["lab-3"]
    lab1 = inventory.get_host("lab-1")
    assert lab1.data.ssh_hostname == "10.77.0.11" and lab1.data.ssh_key == "/keys/lab"
    assert isinstance(lab1.data.mlsite, MlsiteHostData) and lab1.data.mlsite.host.name == "lab-1"


def test_registry_lists_every_role_of_this_issue() -> None:
    assert set(deploy_names()) >= {
        "base",
        "network",
        "disks",
        "gpu",
        "containerd",
        "monitoring_agent",
    }
    for name in deploy_names():
        role = get_deploy(name)
        assert role.params_model.model_config.get("frozen") is True


def test_pyinfra_cli_loads_the_inventory(tmp_path: Path) -> None:
    # pyinfra's own `debug-inventory` lists hosts and groups without connecting (it then
    # fails to JSON-print the typed host data, which is not JSON: only the listing matters).
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/pyinfra"),
            str(ROOT / "mlsite/hosts/inventory.py"),
            "debug-inventory",
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "MLSITE_STACK": str(ROOT / "stacks/Pulumi.lab.yaml"),
            "MLSITE_SSH_KEY": "/k",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert "[lab-1]" in out and "Groups: ceph_mon, ceph_mgr, ceph_osd, ceph_mds, nfs" in out, out

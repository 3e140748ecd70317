"""Ceph on three lab hosts (OSDs on loop devices): HEALTH_OK, pools, CephFS, CRUSH, safety."""

from __future__ import annotations

import json
import re

import pytest

from mlsite.components.storage.keys import CephKeysProvider
from mlsite.hosts.deploys.ceph import failure_domains
from mlsite.storage.keys import parse_keyring
from tests.storage.conftest import CephOnLab
from tests.storage.labrun import apply_role, changed, errors, lab_site

pytestmark = pytest.mark.lab


def ceph_json(ceph: CephOnLab, command: str) -> object:
    return json.loads(ceph.lab.run("lab-1", f"ceph {command} -f json").stdout)


def test_reaches_health_ok_with_rbd_pool_and_cephfs(ceph_lab: CephOnLab) -> None:
    print(
        f"ceph: applied in {ceph_lab.apply_s:.1f} s, HEALTH_OK after {ceph_lab.health_ok_s:.1f} s"
    )
    status = ceph_json(ceph_lab, "status")
    assert isinstance(status, dict)
    assert status["health"]["status"] == "HEALTH_OK"
    assert status["health"].get("mutes", []) == []  # nothing silenced to get there
    assert status["osdmap"]["num_up_osds"] == 3
    assert status["monmap"]["num_mons"] == 3
    pools = {p["pool_name"]: p for p in ceph_json(ceph_lab, "osd pool ls detail")}  # type: ignore[union-attr]
    assert pools["rbd"]["size"] == 3 and pools["rbd"]["min_size"] == 2
    assert "rbd" in pools["rbd"]["application_metadata"]
    assert pools["rbd"]["pg_autoscale_mode"] == "on"
    filesystems = ceph_json(ceph_lab, "fs ls")
    assert [f["name"] for f in filesystems] == ["cephfs"]  # type: ignore[union-attr]


def test_second_apply_changes_nothing(ceph_lab: CephOnLab) -> None:
    result = apply_role(ceph_lab.lab, "ceph")
    assert result["ok"], errors(result)
    assert changed(result) == 0, result["hosts"]


def test_crushtool_finds_no_bad_mapping_for_any_pool(ceph_lab: CephOnLab) -> None:
    site = lab_site()
    hosts = failure_domains(site)
    lab = ceph_lab.lab
    lab.run("lab-1", "ceph osd getcrushmap -o /tmp/crushmap")
    rules = {r["rule_name"]: r["rule_id"] for r in ceph_json(ceph_lab, "osd crush rule dump")}  # type: ignore[union-attr]
    assert site.storage.ceph is not None
    for pool in site.storage.ceph.pools:
        rule_id = rules[f"replicated_{site.storage.ceph.failure_domain}"]
        out = lab.run(
            "lab-1",
            f"crushtool -i /tmp/crushmap --test --rule {rule_id} --num-rep {pool.size} "
            "--min-x 0 --max-x 1023 --show-bad-mappings --show-statistics",
        ).stdout
        assert "bad mapping" not in out, out
        # every input got `size` OSDs, on `size` distinct hosts of the site's `hosts`
        assert re.search(rf"result size == {pool.size}:\s+1024/1024", out), out
        assert pool.size <= hosts


def test_pool_delete_is_refused(ceph_lab: CephOnLab) -> None:
    proc = ceph_lab.lab.run(
        "lab-1", "ceph osd pool delete rbd rbd --yes-i-really-really-mean-it", check=False
    )
    assert proc.returncode != 0
    assert "mon_allow_pool_delete" in proc.stderr


def test_full_ratios_are_the_sites(ceph_lab: CephOnLab) -> None:
    dump = ceph_json(ceph_lab, "osd dump")
    assert isinstance(dump, dict)
    assert dump["nearfull_ratio"] == pytest.approx(0.75)
    assert dump["backfillfull_ratio"] == pytest.approx(0.85)
    assert dump["full_ratio"] == pytest.approx(0.92)


def test_keys_resource_reads_the_admin_keyring_over_ssh(ceph_lab: CephOnLab) -> None:
    lab = ceph_lab.lab
    planned = lab.host("lab-1")
    host = {
        "name": "lab-1",
        "address": str(planned.address),
        "port": planned.ssh_port,
        "user": planned.ssh_user,
        "key_file": str(lab.ssh_key),
    }
    props = {"host": host, "cluster": "ceph", "fsid": "f", "entities": ["client.admin"]}
    read = CephKeysProvider().create(props).outs["keyrings"]["client.admin"]
    on_host = lab.run("lab-1", "cat /etc/ceph/ceph.client.admin.keyring").stdout
    assert parse_keyring(read)["client.admin"] == parse_keyring(on_host)["client.admin"]

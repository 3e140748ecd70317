"""Ceph on three lab hosts (OSDs on loop devices): HEALTH_OK, pools, CephFS, CRUSH, safety."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from mlsite.components.storage.keys import CephKeysProvider
from mlsite.hosts.deploys.ceph import failure_domains, plan_osds
from mlsite.spec import SiteSpec
from mlsite.storage.keys import parse_keyring
from mlsite.storage.rbd_device import LOOP_RECORDS
from tests.storage.conftest import CephOnLab, wait_health_ok
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


EXTRA = "/dev/disk/by-id/lab-osd-extra"
EXTRA_IMAGE = "/var/lib/mlsite-test/osd-extra.img"


def _with_extra_disk(site: SiteSpec, **disk: object) -> SiteSpec:
    """The lab site with a second OSD disk on lab-1 (``disk`` overrides its fields)."""
    first = site.hosts[0]
    extra = first.disks[0].model_copy(update={"id": EXTRA, **disk})
    hosts = (first.model_copy(update={"disks": (*first.disks, extra)}), *site.hosts[1:])
    return site.model_copy(update={"hosts": hosts})


def _osds(ceph: CephOnLab) -> dict[str, dict[str, object]]:
    """The cluster's OSDs by uuid (``ceph osd dump``)."""
    dump = ceph_json(ceph, "osd dump")
    assert isinstance(dump, dict)
    return {str(o["uuid"]): o for o in dump["osds"]}


def _wait_up(ceph: CephOnLab, uuid: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _osds(ceph).get(uuid, {}).get("up") == 1:
            return
        time.sleep(1)
    journal = ceph.lab.run("lab-1", "journalctl -u 'ceph-osd@*' -n 30 --no-pager", check=False)
    raise AssertionError(f"the OSD {uuid} is not up after {timeout_s} s:\n{journal.stdout}")


@pytest.fixture
def extra_disk(ceph_lab: CephOnLab) -> Iterator[str]:
    """A fourth disk on lab-1: a sparse file behind a loop device the host attaches itself,
    recorded where `mlsite lab down` finds it. Removed afterwards, with any OSD left on it."""
    lab = ceph_lab.lab
    lab.run(
        "lab-1",
        # lab hosts start without free loop nodes; they may create them (as mlsite-rbd-dev does)
        "set -e; [ -e /dev/loop-control ] || mknod -m 660 /dev/loop-control c 10 237; "
        "for i in 0 1 2 3 4 5 6 7; do [ -e /dev/loop$i ] || mknod -m 660 /dev/loop$i b 7 $i; done; "
        f"mkdir -p {EXTRA_IMAGE.rsplit('/', 1)[0]} {LOOP_RECORDS}; "
        f"truncate -s 10G {EXTRA_IMAGE}; dev=$(losetup --find --show {EXTRA_IMAGE}); "
        f'echo {EXTRA_IMAGE} > "{LOOP_RECORDS}/${{dev##*/}}"; ln -sfn "$dev" {EXTRA}',
    )
    yield EXTRA
    # a failed test may leave the OSD behind: the test lab goes back to its three OSDs
    lab.run(
        "lab-1",
        "for d in /var/lib/ceph/osd/ceph-*; do "
        f'[ "$(readlink $d/block)" = {EXTRA} ] || continue; i=$(cat $d/whoami); '
        'systemctl disable --now "ceph-osd@$i"; ceph osd down "$i"; '
        'ceph osd purge "$i" --yes-i-really-mean-it; rm -rf "$d"; done; '
        f'dev=$(readlink -f {EXTRA}); losetup -d "$dev"; rm -f "{LOOP_RECORDS}/${{dev##*/}}" '
        f"{EXTRA} {EXTRA_IMAGE}",
        check=False,
    )
    wait_health_ok(lab, "lab-1", timeout_s=600)


def test_an_osd_left_out_is_kept_and_reported_until_decommissioned(
    ceph_lab: CephOnLab, extra_disk: str
) -> None:
    lab, site = ceph_lab.lab, lab_site()
    dirs = lab.run("lab-1", "ls /var/lib/ceph/osd").stdout.split()
    grown = apply_role(lab, "ceph", _with_extra_disk(site))
    assert grown["ok"], errors(grown)
    extra_uuid = next(o.uuid for o in plan_osds(_with_extra_disk(site)) if o.device == EXTRA)
    _wait_up(ceph_lab, extra_uuid)  # a new OSD boots (then gets data) after its unit starts
    wait_health_ok(lab, "lab-1", timeout_s=600)
    before = _osds(ceph_lab)
    extra = before[extra_uuid]
    others = {u: (o["osd"], o["up_from"]) for u, o in before.items() if u != extra_uuid}
    assert len(others) == 3 and extra["up"] == 1 and extra["in"] == 1
    # the cluster gave the id: the lowest free one, after the three of the lab stack
    assert extra["osd"] == 3

    # the disk leaves the description: nothing is touched, the OSD is reported
    left_out = apply_role(lab, "ceph", site)
    assert left_out["ok"], errors(left_out)
    notices = left_out["hosts"]["lab-1"]["notices"]
    assert any(f"osd.3 on {EXTRA} is no longer described" in n for n in notices), notices
    after = _osds(ceph_lab)
    assert {u: (o["osd"], o["up_from"]) for u, o in after.items() if u != extra_uuid} == others
    assert after[extra_uuid]["up"] == 1 and after[extra_uuid]["in"] == 1
    held = ceph_json(ceph_lab, "pg ls-by-osd 3")
    assert isinstance(held, dict) and held["pg_stats"], "the OSD left in place holds data"

    # the explicit step: drained by Ceph, then purged; the cluster stays healthy
    gone = apply_role(lab, "ceph", _with_extra_disk(site, decommission=True))
    assert gone["ok"], errors(gone)
    after = _osds(ceph_lab)
    assert extra_uuid not in after
    assert {u: (o["osd"], o["up_from"]) for u, o in after.items()} == others
    assert lab.run("lab-1", "ls /var/lib/ceph/osd").stdout.split() == dirs
    assert wait_health_ok(lab, "lab-1") == "HEALTH_OK"

    # then the disk can leave the description: nothing to report, nothing to change
    done = apply_role(lab, "ceph", site)
    assert done["ok"], errors(done)
    assert done["hosts"]["lab-1"]["notices"] == []
    assert changed(done) == 0, done["hosts"]

"""Pure Ceph planners: OSD numbering, pools, keys, rendered configuration."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from mlsite.hosts.deploys import ceph as ceph_plan
from mlsite.hosts.deploys.ceph.render import ceph_conf
from mlsite.spec.storage import Pool
from mlsite.storage.keys import generate_key, is_key, keyring, parse_keyring
from tests.storage.labrun import lab_site


def test_lab_plan_has_three_mons_and_one_osd_per_marked_disk() -> None:
    site = lab_site()
    assert [m.name for m in ceph_plan.plan_mons(site)] == ["lab-1", "lab-2", "lab-3"]
    osds = ceph_plan.plan_osds(site)
    assert [(o.host, o.device) for o in osds] == [
        (h, "/dev/disk/by-id/lab-osd-0") for h in ("lab-1", "lab-2", "lab-3")
    ]
    assert len({o.uuid for o in osds}) == 3
    assert ceph_plan.failure_domains(site) == 3


def test_an_osds_identity_does_not_depend_on_the_other_disks() -> None:
    site = lab_site()
    before = {(o.host, o.device): o for o in ceph_plan.plan_osds(site)}
    first = site.hosts[0]
    extra = first.disks[0].model_copy(update={"id": "/dev/disk/by-id/lab-osd-9"})
    grown = site.model_copy(
        update={
            "hosts": (first.model_copy(update={"disks": (extra, *first.disks)}), *site.hosts[1:])
        }
    )
    after = {(o.host, o.device): o for o in ceph_plan.plan_osds(grown)}
    assert set(after) - set(before) == {("lab-1", "/dev/disk/by-id/lab-osd-9")}
    assert all(after[k] == osd for k, osd in before.items())  # same uuid, nothing renumbered
    # the uuid an existing site's OSDs were created with: uuid5(fsid, "<host>/<disk>")
    fsid = ceph_plan.uuid.UUID(ceph_plan.fsid(site))
    assert before[("lab-2", "/dev/disk/by-id/lab-osd-0")].uuid == str(
        ceph_plan.uuid.uuid5(fsid, "lab-2//dev/disk/by-id/lab-osd-0")
    )


def test_fsid_and_osd_uuids_are_stable_between_runs() -> None:
    assert ceph_plan.fsid(lab_site()) == ceph_plan.fsid(lab_site())
    assert ceph_plan.plan_osds(lab_site()) == ceph_plan.plan_osds(lab_site())


@given(
    size=st.integers(1, 10),
    osds=st.integers(0, 500),
    pools=st.integers(1, 40),
)
def test_initial_pg_num_is_a_bounded_power_of_two(size: int, osds: int, pools: int) -> None:
    pool = Pool(name="p", application="rbd", size=size, min_size=1)
    pg = ceph_plan.initial_pg_num(pool, osds, pools)
    assert 8 <= pg <= 256 and math.log2(pg).is_integer()


def test_ratio_commands_only_for_differences() -> None:
    dump = {"nearfull_ratio": 0.75, "backfillfull_ratio": 0.9, "full_ratio": 0.92}
    assert ceph_plan.ratio_commands(0.75, 0.85, 0.92, dump) == [
        "ceph osd set-backfillfull-ratio 0.85"
    ]


def test_existing_pool_with_wrong_size_and_rule_is_corrected() -> None:
    pool = ceph_plan.Pool(
        name="rbd", application="rbd", size=3, min_size=2, rule="replicated_host", pg_num=32
    )
    rules = [
        {"rule_id": 0, "rule_name": "replicated_rule"},
        {"rule_id": 1, "rule_name": "replicated_host"},
    ]
    have = {
        "pool_name": "rbd",
        "size": 2,
        "min_size": 2,
        "crush_rule": 0,
        "pg_autoscale_mode": "on",
        "quota_max_bytes": 0,
        "application_metadata": {"rbd": {}},
    }
    assert ceph_plan.pool_commands((pool,), {"pools": [have]}, rules) == [
        "ceph osd pool set rbd size 3 --yes-i-really-mean-it",
        "ceph osd pool set rbd crush_rule replicated_host",
    ]


@given(st.floats(0, 2**31, allow_nan=False))
def test_generated_keys_are_valid_cephx_keys(now: float) -> None:
    key = generate_key(now)
    assert is_key(key)
    text = keyring({"client.admin": (key, {"mon": "allow *"})})
    assert parse_keyring(text) == {"client.admin": key}


def test_conf_refuses_pool_deletion_and_lists_every_mon() -> None:
    conf = ceph_conf(
        fsid="f",
        mons=(("a", "10.0.0.1"), ("b", "10.0.0.2"), ("c", "10.0.0.3")),
        public_network="10.0.0.0/24",
        cluster_network="10.0.0.0/24",
    )
    assert "mon_allow_pool_delete = false" in conf
    assert "[v2:10.0.0.3:3300,v1:10.0.0.3:6789]" in conf

"""The ceph deploy at operation level: inputs + facts -> operations (no host)."""

from __future__ import annotations

import re

import pytest

from mlsite.hosts.deploys.ceph import (
    LAB_FAST_FAILURE_DETECTION,
    Osd,
    Params,
    central_config,
    config_commands,
    left_out,
    params_for,
    planned_commands,
)
from mlsite.hosts.deploys.ceph import keys as ceph_keys
from mlsite.hosts.deploys.ceph.apply import ceph
from mlsite.hosts.deploys.disks import DiskRefused
from mlsite.hosts.distro import UnsupportedDistribution
from mlsite.hosts.facts import DiskContents
from mlsite.spec import load_stack
from mlsite.storage.keys import generate_key
from tests.hosts.fakehost import DEBIAN_12, DEBIAN_13, plan
from tests.storage.labrun import lab_site

DEVICE = "/dev/disk/by-id/lab-osd-0"


@pytest.fixture
def params() -> Params:
    site = lab_site()
    p = params_for(site, site.hosts)
    ceph_keys._CACHE[p.fsid] = ceph_keys.ClusterKeys(generate_key(), generate_key(), generate_key())
    return p


def _daemon_exists(path: str) -> object:
    """The File fact: monitors, managers and MDSs exist."""
    guard = path.startswith(("/var/lib/ceph/mon/", "/var/lib/ceph/mgr/", "/var/lib/ceph/mds/"))
    return {"mode": 644} if guard else None


def facts(
    disk: DiskContents, *, local: dict[str, dict[str, str]] | None = None, label: str = ""
) -> dict[str, object]:
    """A Ceph host whose OSD directories are ``local`` (uuid -> id and device)."""
    return {
        "OsRelease": DEBIAN_12,
        "File": _daemon_exists,
        "DiskProbe": lambda path: disk,
        "OsdOnDisk": lambda path: label,
        "LocalOsds": lambda cluster: local or {},
    }


def lab3(params: Params) -> Osd:
    return next(o for o in params.osds if o.host == "lab-3")


EMPTY = DiskContents(path=DEVICE, device="/dev/loop2")
BLUESTORE = DiskContents(path=DEVICE, device="/dev/loop2", signatures=("ceph_bluestore@0x0",))


def test_refuses_a_disk_holding_a_filesystem_when_wipe_is_never(params: Params) -> None:
    osds = tuple(o.model_copy(update={"wipe": "never"}) for o in params.osds)
    guarded = params.model_copy(update={"osds": osds})
    full = DiskContents(path=DEVICE, device="/dev/loop2", signatures=("ext4@0x438",))
    result = plan(ceph, guarded, facts(full), host_name="lab-3")
    assert isinstance(result.error, DiskRefused)
    assert "holds data" in str(result.error) and "wipe" in str(result.error)
    assert "osd new" not in result.all_commands and "wipefs --all" not in result.all_commands


def test_wipes_first_when_wipe_is_allowed(params: Params) -> None:
    full = DiskContents(path=DEVICE, device="/dev/loop2", signatures=("ext4@0x438",))
    result = plan(ceph, params, facts(full), host_name="lab-3")
    assert result.error is None
    create = result.op(f"ceph | Create the OSD on {DEVICE}").text
    assert create.index("wipefs --all --force /dev/loop2") < create.index("osd new")
    assert 'ceph-osd --cluster ceph -i "$i" --mkfs' in create


def test_the_cluster_gives_a_new_osd_its_id(params: Params) -> None:
    create = plan(ceph, params, facts(EMPTY), host_name="lab-3").op("ceph | Create the OSD").text
    # no id of mlsite's own: `osd new <uuid>` answers with the lowest free id
    assert re.search(rf"osd new {lab3(params).uuid} -i - ", create), create
    assert "i=$(printf" in create and 'systemctl enable --now "ceph-osd@$i"' in create
    # a half-made OSD of this uuid is purged first, by Ceph's purge-new (refused if it ran)
    assert create.index("purge-new") < create.index("osd new")


def test_an_existing_osd_keeps_the_id_its_directory_holds(params: Params) -> None:
    local = {lab3(params).uuid: {"id": "7", "device": DEVICE}}
    result = plan(ceph, params, facts(BLUESTORE, local=local), host_name="lab-3")
    assert result.error is None
    assert not result.has("ceph | Create the OSD")
    assert result.has("ceph | Run osd.7")
    assert result.notices == ()


def test_an_osd_no_longer_described_is_left_running_and_reported(params: Params) -> None:
    gone = "4b1f3e0c-0000-5000-8000-000000000001"
    local = {
        lab3(params).uuid: {"id": "2", "device": DEVICE},
        gone: {"id": "5", "device": "/dev/disk/by-id/old"},
    }
    result = plan(ceph, params, facts(BLUESTORE, local=local), host_name="lab-3")
    assert result.error is None
    assert len(result.notices) == 1
    assert "osd.5 on /dev/disk/by-id/old is no longer described" in result.notices[0]
    assert "decommission: true" in result.notices[0]
    touched = result.all_commands
    for word in ("osd.5", "ceph-osd@5", "osd out", "purge", "wipefs"):
        assert word not in touched, word


def test_an_osd_is_reported_on_a_host_whose_osds_all_left_the_description(
    params: Params,
) -> None:
    gone = "4b1f3e0c-0000-5000-8000-000000000002"
    none_here = params.model_copy(
        update={"osds": tuple(o for o in params.osds if o.host != "lab-3")}
    )
    local = {gone: {"id": "2", "device": DEVICE}}
    result = plan(ceph, none_here, facts(BLUESTORE, local=local), host_name="lab-3")
    assert result.error is None
    assert [n.split(" is ")[0] for n in result.notices] == [f"osd.2 on {DEVICE}"]
    assert "osd.2" not in result.all_commands and "ceph-osd@2" not in result.all_commands


def test_decommission_drains_with_cephs_checks_before_purging(params: Params) -> None:
    osds = tuple(o.model_copy(update={"decommission": o.host == "lab-3"}) for o in params.osds)
    draining = params.model_copy(update={"osds": osds})
    local = {lab3(params).uuid: {"id": "2", "device": DEVICE}}
    result = plan(ceph, draining, facts(BLUESTORE, local=local), host_name="lab-3")
    assert result.error is None
    text = result.op("ceph | Decommission osd.2").text
    steps = [
        "osd out 2",
        "osd safe-to-destroy 2",
        "osd ok-to-stop 2",
        "systemctl disable --now ceph-osd@2",
        "osd purge 2",
        "rm -rf /var/lib/ceph/osd/ceph-2",
    ]
    assert [text.index(s) for s in steps] == sorted(text.index(s) for s in steps), text
    assert "--yes-i-really-mean-it" not in text.split("osd purge 2")[0]  # no forced step before
    assert "wipefs" not in text and "dd if=" not in text  # the disk itself is left as it is
    assert not result.has("ceph | Run osd.2") and not result.has("ceph | Create the OSD")


def test_a_decommissioned_osd_already_gone_is_not_created_again(params: Params) -> None:
    osds = tuple(o.model_copy(update={"decommission": True}) for o in params.osds)
    done = params.model_copy(update={"osds": osds})
    result = plan(ceph, done, facts(BLUESTORE), host_name="lab-3")
    assert result.error is None
    assert not result.has("ceph | Create the OSD") and not result.has("ceph | Decommission")


def test_pool_plan_is_empty_once_the_cluster_matches(params: Params) -> None:
    rules = [
        {"rule_id": 0, "rule_name": "replicated_rule"},
        {"rule_id": 1, "rule_name": "replicated_host"},
    ]
    pools = [
        {
            "pool_name": p.name,
            "size": p.size,
            "min_size": p.min_size,
            "crush_rule": 1,
            "pg_autoscale_mode": p.pg_autoscale,
            "quota_max_bytes": 0,
            "application_metadata": {p.application: {}},
        }
        for p in params.pools
    ]
    observed = {
        "osd": {
            "pools": pools,
            "nearfull_ratio": 0.75,
            "backfillfull_ratio": 0.85,
            "full_ratio": 0.92,
        },
        "rules": rules,
        "fs": [{"name": "cephfs"}],
        "config": [
            {"section": "mon", "name": "mon_allow_pool_delete", "value": "false"},
            {"section": "mon", "name": "mon_data_avail_warn", "value": "5"},
            {"section": "mon", "name": "paxos_propose_interval", "value": "0.1"},
            *(
                {"section": section, "name": name, "value": value}
                for (section, name), value in LAB_FAST_FAILURE_DETECTION.items()
            ),
        ],
    }
    assert planned_commands(params, observed) == []
    new = planned_commands(params, {})
    assert (
        "ceph --cluster ceph osd crush rule create-replicated replicated_host default host" in new
    )
    assert any(c.startswith("ceph --cluster ceph osd pool create rbd ") for c in new)
    assert "ceph --cluster ceph osd set-nearfull-ratio 0.75" in new
    assert new[-1] == "ceph --cluster ceph fs new cephfs cephfs_metadata cephfs_data"


def test_lab_sites_alone_get_fast_failure_detection(params: Params) -> None:
    assert params.failure_detection == "lab-fast"
    assert central_config(params)[("global", "osd_heartbeat_grace")] == "5"
    real = params.model_copy(
        update={
            "failure_detection": "ceph-default",
            "mon_data_avail_warn_pct": None,
            "mon_propose_interval_s": None,
        }
    )
    assert central_config(real) == {("mon", "mon_allow_pool_delete"): "false"}


@pytest.mark.parametrize(("stack", "interval"), [("lab", "0.1"), ("akiba", "0.1"), ("shiva", None)])
def test_sites_with_personal_databases_get_quicker_monitor_commits(
    stack: str, interval: str | None
) -> None:
    # every copy of a personal database takes a snapshot, which waits for a monitor commit
    site = load_stack(stack).site
    wanted = central_config(params_for(site, site.hosts))
    assert wanted.get(("mon", "paxos_propose_interval")) == interval


@pytest.mark.parametrize("stack", ["akiba", "shiva"])
def test_real_sites_keep_cephs_own_failure_detection_and_warnings(stack: str) -> None:
    site = load_stack(stack).site
    real = params_for(site, site.hosts)
    assert real.failure_detection == "ceph-default"
    assert real.mon_data_avail_warn_pct is None


def test_a_number_shown_with_other_digits_is_the_same_setting() -> None:
    have = [{"section": "mon", "name": "paxos_propose_interval", "value": "0.100000"}]
    assert config_commands({("mon", "paxos_propose_interval"): "0.1"}, have) == []
    assert config_commands({("mon", "paxos_propose_interval"): "0.2"}, have) == [
        "ceph config set mon paxos_propose_interval 0.2"
    ]
    assert config_commands({("mon", "mon_allow_pool_delete"): "false"}, []) == [
        "ceph config set mon mon_allow_pool_delete false"
    ]


def test_debian_13_is_refused_before_anything_is_installed(params: Params) -> None:
    empty = DiskContents(path=DEVICE, device="/dev/loop2", signatures=())
    table = {**facts(empty), "OsRelease": DEBIAN_13}
    result = plan(ceph, params, table, host_name="lab-1")
    assert isinstance(result.error, UnsupportedDistribution)
    assert "Debian 13" in str(result.error) and "Debian 12" in str(result.error)
    assert result.ops == []
    assert plan(ceph, params, facts(empty), host_name="lab-1").error is None


def test_release_names_follow_cephs_major_versions() -> None:
    from mlsite.hosts.deploys.ceph import release_of

    assert release_of("16.2.15+ds-0+deb12u2") == "pacific"  # this machine's bookworm package
    assert release_of("17.2.7-0ubuntu0.22.04.1") == "quincy"
    assert release_of("2:18.2.4-1") == "reef"  # an epoch
    assert release_of("19.2.0-0ubuntu0.24.04.1") == "squid"
    assert release_of("") is None and release_of("15.2.17-1") is None


def test_a_ceph_release_the_host_does_not_offer_is_refused_before_anything(
    params: Params,
) -> None:
    empty = DiskContents(path=DEVICE, device="/dev/loop2", signatures=())
    table = {**facts(empty), "CephCandidate": "16.2.15+ds-0+deb12u2"}
    wanted = params.model_copy(update={"release": "reef"})
    result = plan(ceph, wanted, table, host_name="lab-1")
    assert isinstance(result.error, UnsupportedDistribution)
    message = str(result.error)
    assert "storage.ceph.release asks for reef" in message and "16.2.15" in message
    assert "pacific" in message
    assert result.ops == []
    offered = params.model_copy(update={"release": "pacific"})
    assert plan(ceph, offered, table, host_name="lab-1").error is None
    nothing = {**table, "CephCandidate": ""}
    assert "no Ceph package" in str(plan(ceph, wanted, nothing, host_name="lab-1").error)


def test_the_description_s_release_reaches_the_parameters() -> None:
    site = lab_site()
    ceph_spec = site.storage.ceph
    assert ceph_spec is not None
    storage = site.storage.model_copy(
        update={"ceph": ceph_spec.model_copy(update={"release": "pacific"})}
    )
    pinned = site.model_copy(update={"storage": storage})
    assert params_for(pinned, pinned.hosts).release == "pacific"
    assert params_for(site, site.hosts).release is None


def test_a_pool_left_out_of_the_description_is_left_in_the_cluster(params: Params) -> None:
    """Removing a pool from the description never deletes it: no command touches a pool
    the parameters do not name (the review flags the removal; Ceph refuses deletes too)."""
    fs = params.cephfs
    in_fs = {fs.metadata_pool, fs.data_pool} if fs else set()
    gone = next(p.name for p in params.pools if p.name not in in_fs)
    kept = params.model_copy(update={"pools": tuple(p for p in params.pools if p.name != gone)})
    observed = {
        "osd": {
            "pools": [
                {
                    "pool_name": p.name,
                    "size": p.size,
                    "min_size": p.min_size,
                    "crush_rule": 1,
                    "pg_autoscale_mode": p.pg_autoscale,
                    "quota_max_bytes": p.quota_bytes,
                    "application_metadata": {p.application: {}},
                }
                for p in params.pools
            ]
        },
        "rules": [{"rule_id": 1, "rule_name": params.pools[0].rule}],
        "fs": [{"name": fs.name}] if fs else [],
    }
    commands = planned_commands(kept, observed)
    assert not [c for c in commands if gone in c], commands
    assert not [c for c in commands if " delete " in c or " rm " in c], commands
    # ...and it is reported, on the bootstrap host that reads the cluster's state
    observed["osd"]["pools"] += [{"pool_name": ".mgr"}, {"pool_name": "device_health_metrics"}]  # type: ignore[index]
    table = {**facts(BLUESTORE), "CephState": lambda cluster: observed}
    result = plan(ceph, kept, table, host_name=kept.bootstrap)
    assert result.error is None
    assert [n for n in result.notices if n.startswith("pool ")] == [
        f"pool {gone} is no longer described: it stays, with its data (the monitors refuse "
        "to delete pools: mon_allow_pool_delete is false)"
    ]
    assert not [c for c in result.all_commands.splitlines() if "pool delete" in c or "pool rm" in c]


def test_a_cephfs_left_out_is_reported_and_kept(params: Params) -> None:
    observed = {"osd": {"pools": []}, "rules": [], "fs": [{"name": "cephfs"}, {"name": "old"}]}
    assert left_out(params, observed) == [
        "the CephFS old is no longer described: it stays, with its files"
    ]
    assert "fs rm" not in "\n".join(planned_commands(params, observed))

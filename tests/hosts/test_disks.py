"""The disks deploy at operation level: refuse data-bearing disks, wipe allowed ones."""

from __future__ import annotations

from mlsite.hosts.deploys import disks
from mlsite.hosts.deploys.disks import apply as disks_apply
from mlsite.hosts.facts import DiskContents, DiskProbe
from tests.hosts.fakehost import DEBIAN_12, plan

OSD = "/dev/disk/by-id/ata-SSD_1"


def _params(wipe: str) -> disks.Params:
    return disks.Params(hosts={"h1": (disks.DiskConf(id=OSD, use="ceph-osd", wipe=wipe),)})  # type: ignore[arg-type]


def _facts(contents: DiskContents) -> dict[str, object]:
    return {"OsRelease": DEBIAN_12, "DiskProbe": lambda path: contents}


def test_probe_parses_signatures_and_partitions() -> None:
    out = ["device /dev/sdb", "sig gpt@0x200", "sig PMBR@0x1fe", "part sdb1"]
    got = DiskProbe().process(out)
    assert got.device == "/dev/sdb" and got.signatures == ("gpt@0x200", "PMBR@0x1fe")
    assert got.partitions == ("sdb1",) and not got.empty


def test_refuses_a_disk_with_a_filesystem_when_wipe_is_never() -> None:
    p = plan(
        disks_apply.disks, _params("never"), _facts(DiskContents("", "/dev/loop3", ("ext4@0x438",)))
    )
    assert isinstance(p.error, disks.DiskRefused)
    assert "ext4@0x438" in str(p.error) and "wipe: allowed" in str(p.error)
    assert p.ops == []


def test_wipes_an_allowed_disk_and_its_partitions() -> None:
    contents = DiskContents("", "/dev/sdb", ("gpt@0x200",), ("sdb1",))
    p = plan(disks_apply.disks, _params("allowed"), _facts(contents))
    assert p.error is None
    assert p.op("disks | Wipe").commands[:2] == [
        "wipefs --all --force /dev/sdb1",
        "wipefs --all --force /dev/sdb",
    ]


def test_an_empty_disk_needs_nothing() -> None:
    p = plan(disks_apply.disks, _params("never"), _facts(DiskContents("", "/dev/sdb")))
    assert p.error is None and p.changed == []


def test_a_missing_disk_is_an_error() -> None:
    p = plan(disks_apply.disks, _params("allowed"), _facts(DiskContents("", None)))
    assert isinstance(p.error, disks.DiskRefused) and "no such block device" in str(p.error)


BLUESTORE = DiskContents("", "/dev/sdb", ("ceph_bluestore@0x0",))


def test_reapply_never_wipes_an_osd_even_when_wipe_is_allowed() -> None:
    p = plan(disks_apply.disks, _params("allowed"), _facts(BLUESTORE))
    assert p.error is None and p.ops == []


def test_an_osd_disk_is_not_refused_when_wipe_is_never() -> None:
    p = plan(disks_apply.disks, _params("never"), _facts(BLUESTORE))
    assert p.error is None and p.ops == []


def test_probe_sees_a_bluestore_label() -> None:
    got = DiskProbe().process(["device /dev/sdb", "sig ceph_bluestore@0x0"])
    assert got.ceph_osd and not got.empty

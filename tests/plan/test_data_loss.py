"""Reviews catch data loss: a corpus of data-losing edits of akiba and shiva (each flagged,
exit 3, naming the data) and of harmless ones (exit 0, no CAUTION)."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlsite.plan.diff import EXIT_DESTRUCTIVE, EXIT_OK, diff_plans, render_markdown
from mlsite.plan.run import plan_site_data

ROOT = Path(__file__).resolve().parents[2]
Edit = Callable[[dict[str, Any]], None]


@cache
def site_data(stack: str) -> str:
    """The stack's site description as JSON, its sealed secrets replaced by plain stand-ins
    (the offline plan masks them either way)."""
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    counter = itertools.count()

    def unseal(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                return f"stand-in-secret-{next(counter):04d}-value"
            return {k: unseal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unseal(v) for v in value]
        return value

    return json.dumps(unseal(doc["config"]["mlsite:site"]))


@cache
def plan_of(stack: str, data: str) -> str:
    return json.dumps(plan_site_data(json.loads(data), stack).doc())


def diff(stack: str, edit: Edit, before: Edit | None = None) -> tuple[int, str, Any]:
    """Plan the stack (after ``before``, when given) and again after ``edit``; diff them."""
    start = json.loads(site_data(stack))
    if before is not None:
        before(start)
    data = copy.deepcopy(start)
    edit(data)
    base = json.loads(plan_of(stack, json.dumps(start)))
    head = json.loads(plan_of(stack, json.dumps(data)))
    d = diff_plans(base, head)
    return d.exit_code, render_markdown(d), d


def _host(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in data["hosts"] if h["name"] == name)


def _osd_disks(host: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in host["disks"] if d["use"] == "ceph-osd"]


def remove_osd_disk(data: dict[str, Any]) -> None:
    host = _host(data, "akiba-2")
    host["disks"].remove(_osd_disks(host)[0])


def add_pool(data: dict[str, Any]) -> None:
    data["storage"]["ceph"]["pools"].append(
        {"name": "scratch", "application": "rbd", "size": 3, "min_size": 2}
    )


def remove_pool(data: dict[str, Any]) -> None:
    """Removes the pool ``scratch`` (the base has it: ``add_pool``); the site's own pools
    are all in use, and validation refuses removing a pool that something uses."""
    pools = data["storage"]["ceph"]["pools"]
    pools[:] = [p for p in pools if p["name"] != "scratch"]


def lower_pool_size(data: dict[str, Any]) -> None:
    pool = next(p for p in data["storage"]["ceph"]["pools"] if p["name"] == "rbd")
    pool.update(size=2, min_size=1)


def remove_cephfs(data: dict[str, Any]) -> None:
    storage = data["storage"]
    del storage["ceph"]["cephfs"]
    storage["ceph"]["pools"] = [p for p in storage["ceph"]["pools"] if p["application"] != "cephfs"]
    storage.get("nfs", {}).pop("image_pool", None)


def remove_nfs(data: dict[str, Any]) -> None:
    del data["storage"]["nfs"]


def move_export(data: dict[str, Any]) -> None:
    data["storage"]["nfs"].setdefault("export", {})["path"] = "/srv/homes"


def remove_database_set(data: dict[str, Any]) -> None:
    data["databases"]["personal"] = data["databases"]["personal"][1:]


def remove_user(data: dict[str, Any]) -> None:
    users = data["workspaces"]["users"]
    users[:] = [u for u in users if u["name"] != users[-1]["name"]]


def move_registry_storage(data: dict[str, Any]) -> None:
    data["registry"]["storage_path"] = "/srv/registry-new"


def decommission_osd_disk(data: dict[str, Any]) -> None:
    _osd_disks(_host(data, "akiba-3"))[0]["decommission"] = True


def allow_wipe(data: dict[str, Any]) -> None:
    _osd_disks(_host(data, "akiba-3"))[0]["wipe"] = "allowed"


LOSING: list[tuple[str, str, Edit, list[str]]] = [
    ("akiba", "remove an OSD disk", remove_osd_disk, ["leaves the description", "akiba-2"]),
    ("akiba", "remove a pool", remove_pool, ["pool scratch leaves the description"]),
    ("akiba", "lower a pool's size", lower_pool_size, ["pool rbd keeps 2 copies instead of 3"]),
    ("akiba", "remove the CephFS", remove_cephfs, ["CephFS", "no longer described"]),
    ("akiba", "remove the NFS part", remove_nfs, ["delete", "akiba-nfs-hosts", "the homes on"]),
    ("akiba", "move the export", move_export, ["export path changes"]),
    ("akiba", "remove a database set", remove_database_set, ["database sets restaurants"]),
    ("akiba", "remove a user", remove_user, ["user ken leaves the site"]),
    ("akiba", "move the registry's storage", move_registry_storage, ["registry's storage moves"]),
    ("akiba", "allow wiping an OSD disk", allow_wipe, ["may now be wiped"]),
    ("akiba", "decommission an OSD", decommission_osd_disk, ["akiba-3", "is decommissioned"]),
    ("shiva", "remove a pool", remove_pool, ["pool scratch leaves the description"]),
    ("shiva", "remove a user", remove_user, ["leaves the site"]),
]


@pytest.mark.parametrize(
    ("stack", "what", "edit", "named"), LOSING, ids=[f"{s}: {w}" for s, w, _, _ in LOSING]
)
def test_a_data_losing_edit_is_flagged_and_exits_3(
    stack: str, what: str, edit: Edit, named: list[str]
) -> None:
    code, md, _ = diff(stack, edit, add_pool if edit is remove_pool else None)
    assert code == EXIT_DESTRUCTIVE, md
    caution = md.split("> [!CAUTION]", 1)[1].split("\n\n", 1)[0]
    for text in named:
        assert text in caution, f"{text!r} not in the CAUTION block:\n{caution}"


def add_host(data: dict[str, Any]) -> None:
    host = copy.deepcopy(_host(data, "akiba-5"))
    host.update(name="akiba-6", address="10.10.0.16")
    host.pop("storage_address", None)
    host.pop("bmc", None)
    host["roles"] = [r for r in host["roles"] if r.startswith("k8s")] or ["k8s-worker"]
    host["disks"] = [d for d in host["disks"] if d["use"] != "ceph-osd"]
    for bond in host.get("bonds", []):
        for vlan in bond.get("vlans", []):
            if "address" in vlan:
                vlan["address"] = vlan["address"].rsplit(".", 1)[0] + ".16"
    data["hosts"].append(host)


def change_gpu_count(data: dict[str, Any]) -> None:
    _host(data, "akiba-2")["gpus"][0]["count"] = 1


def add_user(data: dict[str, Any]) -> None:
    data["workspaces"]["users"].append({"name": "mio", "uid": 2099})


HARMLESS: list[tuple[str, Edit]] = [
    ("add a host", add_host),
    ("change a GPU count", change_gpu_count),
    ("add a pool", add_pool),
    ("add a user", add_user),
]


@pytest.mark.parametrize(("what", "edit"), HARMLESS, ids=[w for w, _ in HARMLESS])
def test_a_harmless_edit_exits_0_without_caution(what: str, edit: Edit) -> None:
    code, md, d = diff("akiba", edit)
    assert d.changes, f"{what} changed nothing: the case tests nothing"
    assert code == EXIT_OK, md
    assert "CAUTION" not in md


def test_adding_a_host_is_one_line_per_affected_resource() -> None:
    _, md, d = diff("akiba", add_host)
    for change in d.changes:
        block = md.split(f"**{change.name}**", 1)[1].split("\n- ", 1)[0]
        mentions = [line for line in block.splitlines() if "akiba-6" in line]
        assert len(mentions) <= 1, f"{change.name}:\n{block}"


def test_removing_a_pool_is_not_read_as_a_rename() -> None:
    _, md, _ = diff("akiba", remove_pool, add_pool)
    assert "removed `scratch` in `params.pools`" in md
    assert '"scratch" →' not in md  # not `pools[4].name: "scratch" -> ...`


def test_removing_one_osd_disk_changes_exactly_one_osd() -> None:
    _, md, d = diff("akiba", remove_osd_disk)
    osd_fields = [f for c in d.changes for f in c.fields if f.path.startswith("params.osds")]
    assert len(osd_fields) == 1, md
    assert osd_fields[0].item == "removed" and "akiba-2" in str(osd_fields[0].path), md
    assert "osd_id" not in md  # no other OSD renumbered


def test_finishing_a_decommission_is_not_flagged() -> None:
    code, md, d = diff("akiba", remove_osd_disk, before=_decommission_first)
    assert d.changes, "the case tests nothing"
    assert code == EXIT_OK, md
    assert "CAUTION" not in md


def _decommission_first(data: dict[str, Any]) -> None:
    _osd_disks(_host(data, "akiba-2"))[0]["decommission"] = True

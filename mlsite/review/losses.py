"""Data-losing edits inside a resource: what a reviewer must see flagged like a delete.

A HostDeploy that is only updated can still destroy data: a pool gone from the ceph deploy's
parameters, an OSD's disk dropped or decommissioned, a database set or a user removed, a disk allowed to be
wiped. ``losses(role, old, new)`` compares one deploy's readable parameters before and after
(as the plan shows them) and names each piece of data at risk and what it is. Pure: plans in,
sentences out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Rule = Callable[[dict[str, Any], dict[str, Any]], list[str]]


def _by(items: Iterable[Any] | None, *keys: str) -> dict[str, dict[str, Any]]:
    """List items (dicts) by their identity: the values of ``keys``, joined with ':'."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or ():
        if isinstance(item, dict) and all(k in item for k in keys):
            out[":".join(str(item[k]) for k in keys)] = item
    return out


def _ceph(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if old.get("fsid") and new.get("fsid") and old["fsid"] != new["fsid"]:
        found.append(
            f"the cluster's fsid changes ({old['fsid']} -> {new['fsid']}): that is a new, "
            "empty cluster, not this one"
        )
    osds_old, osds_new = (
        _by(old.get("osds"), "host", "device"),
        _by(new.get("osds"), "host", "device"),
    )
    for key, osd in osds_old.items():
        after = osds_new.get(key)
        where = f"{osd['host']} {osd['device']}"
        if after is None:
            if not osd.get("decommission"):
                found.append(
                    f"the OSD on {where} leaves the description with its replicas: the deploy "
                    "leaves it running, untouched, and reports it, but no longer manages it; "
                    "to remove it, mark the disk `decommission: true` first (Ceph drains it and "
                    "checks safe-to-destroy)"
                )
            continue
        if after.get("decommission") and not osd.get("decommission"):
            found.append(
                f"the OSD on {where} is decommissioned: Ceph moves its replicas to the other "
                "OSDs, then it is stopped and purged (only once Ceph finds it safe to destroy)"
            )
        if osd.get("wipe") == "never" and after.get("wipe") == "allowed":
            found.append(f"{where} may now be wiped (wipe: never -> allowed)")
    pools_old, pools_new = _by(old.get("pools"), "name"), _by(new.get("pools"), "name")
    for name, pool in pools_old.items():
        after = pools_new.get(name)
        if after is None:
            found.append(f"pool {name} leaves the description, with everything stored in it")
        elif int(after.get("size", 0)) < int(pool.get("size", 0)):
            found.append(
                f"pool {name} keeps {after.get('size')} copies instead of {pool.get('size')}: "
                "a failure then loses more"
            )
    fs_old, fs_new = old.get("cephfs"), new.get("cephfs")
    if isinstance(fs_old, dict) and not isinstance(fs_new, dict):
        found.append(f"the CephFS {fs_old.get('name')} and its files are no longer described")
    elif isinstance(fs_old, dict) and isinstance(fs_new, dict) and fs_new != fs_old:
        found.append(
            f"the CephFS {fs_old.get('name')} becomes {fs_new.get('name')} on "
            f"{fs_new.get('metadata_pool')}/{fs_new.get('data_pool')}: a new, empty file system"
        )
    return found


def _disks(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found: list[str] = []
    hosts_old, hosts_new = old.get("hosts") or {}, new.get("hosts") or {}
    for host, disks in hosts_old.items():
        after = _by(hosts_new.get(host) or (), "id")
        for disk_id, disk in _by(disks, "id").items():
            now = after.get(disk_id)
            if now and disk.get("wipe") == "never" and now.get("wipe") == "allowed":
                found.append(f"{host} {disk_id} may now be wiped (wipe: never -> allowed)")
    return found


def _nfs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found: list[str] = []
    before = f"{old.get('pool')}/{old.get('image')}"
    after = f"{new.get('pool')}/{new.get('image')}"
    if before != after:
        found.append(
            f"the homes' RBD image changes ({before} -> {after}): the export would serve a "
            "new, empty file system"
        )
    if old.get("export_path") != new.get("export_path"):
        found.append(
            f"the homes' export path changes ({old.get('export_path')} -> "
            f"{new.get('export_path')}): clients mounting the old path lose their homes"
        )
    return found


def _databases(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found: list[str] = []
    sets_new = _by(new.get("sets"), "name")
    for name, db in _by(old.get("sets"), "name").items():
        after = sets_new.get(name)
        if after is None:
            found.append(f"database set {name} (its golden copy and the users' copies) goes")
        elif (after.get("pool"), after.get("golden_image")) != (
            db.get("pool"),
            db.get("golden_image"),
        ):
            found.append(
                f"database set {name} moves to {after.get('pool')}/{after.get('golden_image')}: "
                f"the golden copy in {db.get('pool')}/{db.get('golden_image')} is left behind"
            )
    return found


def _accounts(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    gone = _by(old.get("accounts"), "name").keys() - _by(new.get("accounts"), "name").keys()
    return [
        f"user {name} leaves the site: their home and files are no longer theirs"
        for name in sorted(gone)
    ]


def _registry(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old.get("storage_path") and old.get("storage_path") != new.get("storage_path"):
        return [
            f"the registry's storage moves ({old.get('storage_path')} -> "
            f"{new.get('storage_path')}): the images stored at the old path are no longer served"
        ]
    return []


RULES: dict[str, Rule] = {
    "ceph": _ceph,
    "disks": _disks,
    "nfs_ha": _nfs,
    "personal_db": _databases,
    "base": _accounts,
    "registry": _registry,
}
"""Data-loss rules by deploy."""


def losses(role: str, old: Any, new: Any) -> list[str]:
    """The data an update of deploy ``role`` from params ``old`` to ``new`` puts at risk."""
    rule = RULES.get(role)
    if rule is None or not isinstance(old, dict) or not isinstance(new, dict):
        return []
    return rule(old, new)


def held(role: str, params: Any) -> list[str]:
    """The data a deploy's hosts hold, named for a reviewer (a delete or replace of its
    HostDeploy puts all of it at risk)."""
    if not isinstance(params, dict):
        return []
    if role == "ceph":
        pools = ", ".join(sorted(_by(params.get("pools"), "name"))) or "none"
        fs = params.get("cephfs")
        what = [f"{len(params.get('osds') or ())} OSDs and the pools {pools}"]
        if isinstance(fs, dict):
            what.append(f"the CephFS {fs.get('name')}")
        return what
    if role == "nfs_ha":
        return [f"the homes on {params.get('pool')}/{params.get('image')}"]
    if role == "personal_db":
        names = ", ".join(sorted(_by(params.get("sets"), "name")))
        return [f"the database sets {names} (golden copies and users' copies)"] if names else []
    if role == "registry":
        return [f"the images stored in {params.get('storage_path')}"]
    return []

#!/usr/bin/python3
"""mlsite-db: per-user copy-on-write copies of a golden Postgres database (runs on the db host).

Installed as /usr/local/sbin/mlsite-db by the personal_db deploy; standard library and
Ceph's own Python bindings (python3-rbd) only.

    mlsite-db SET clone USER     quiesce the golden copy, snapshot, clone, start a Postgres on it
    mlsite-db SET list           every copy (expired ones are dropped first)
    mlsite-db SET drop USER      stop the copy's Postgres, remove its clone and snapshot
    mlsite-db SET expire         drop every expired copy (run by mlsite-db-expire.timer)

Every command prints one JSON document on stdout.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CONF_DIR = Path("/etc/mlsite-db")
STATE_DIR = Path("/var/lib/mlsite-db")
MOUNT_ROOT = Path("/srv/mlsite-db")
UNIT = "mlsite-db@{}.service"
FIFREEZE, FITHAW = 0xC0045877, 0xC0045878
"""ioctls of fsfreeze(8): _IOWR('X', 119 | 120, int)."""


class DbError(RuntimeError):
    """A refused or failed command (printed as {"error": ...}, exit status 1)."""


def instance(db_set: str, who: str) -> str:
    """The unit instance of a copy (``analytics-alice``) or of the golden copy (``-golden``)."""
    return f"{db_set}-{who}"


def clone_image(cfg: dict[str, Any], user: str) -> str:
    """The clone's RBD image name."""
    return f"{cfg['golden_image']}-{user}"


def free_port(cfg: dict[str, Any], clones: dict[str, dict[str, Any]]) -> int:
    """The lowest port above the golden copy's (``port_base``) no copy uses."""
    used = {int(c["port"]) for c in clones.values()}
    port = int(cfg["port_base"]) + 1
    while port in used:
        port += 1
    return port


def expired(clones: dict[str, dict[str, Any]], now: float) -> list[str]:
    """Users whose copy has outlived its lifetime."""
    return sorted(u for u, c in clones.items() if float(c["expires"]) <= now)


def chain_depth(info: dict[str, Any], parent_info: Any) -> int:
    """How many clone parents an image has (``parent_info(parent) -> rbd info`` of a parent)."""
    depth = 0
    while isinstance(info.get("parent"), dict):
        depth += 1
        parent = info["parent"]
        info = parent_info(f"{parent['pool']}/{parent['image']}")
    return depth


def env_file(cfg: dict[str, Any], image: str, mount: Path, port: int) -> str:
    """The unit instance's environment: which image, where, which port."""
    return (
        f"IMAGE={cfg['pool']}/{image}\nMOUNT={mount}\nPORT={port}\nMODE={cfg['rbd_mode']}\n"
        f"PGBIN=/usr/lib/postgresql/{cfg['engine_version']}/bin\n"
    )


def _start(*args: str, user: str | None = None) -> subprocess.Popen[str]:
    cmd = ["runuser", "-u", user, "--", *args] if user else list(args)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")


def _wait(proc: subprocess.Popen[str]) -> str:
    """The finished command's stdout (DbError if it failed)."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        args = proc.args if isinstance(proc.args, list) else [str(proc.args)]
        raise DbError(f"`{' '.join(map(str, args))}` failed: {err.strip()[-400:]}")
    return out


def _run(*args: str, user: str | None = None) -> str:
    return _wait(_start(*args, user=user))


class Registry:
    """The copies of one set (JSON under /var/lib/mlsite-db), locked while in use."""

    def __init__(self, db_set: str) -> None:
        self.path = STATE_DIR / db_set / "clones.json"

    @contextlib.contextmanager
    def open(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            clones: dict[str, dict[str, Any]] = (
                json.loads(self.path.read_text()) if self.path.exists() else {}
            )
            yield clones
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(clones, indent=1, sort_keys=True))
            tmp.replace(self.path)


def clone(cfg: dict[str, Any], db_set: str, user: str, now: float) -> dict[str, Any]:
    """Copy the golden database for ``user`` and start a Postgres on the copy."""
    allowed = cfg.get("users")
    if allowed is not None and user not in allowed:
        raise DbError(f"{user} may not have a copy of {db_set} (allowed: {', '.join(allowed)})")
    pool, cluster, golden = cfg["pool"], cfg["cluster"], cfg["golden_image"]
    with Registry(db_set).open() as clones:
        if user in clones:
            raise DbError(f"{user} already has a copy of {db_set}; drop it first")
        started = time.monotonic()
        snap = f"{user}-{int(now)}"
        image = clone_image(cfg, user)
        steps: dict[str, float] = {}
        mark = started

        def step(name: str) -> None:
            nonlocal mark
            steps[name] = round(time.monotonic() - mark, 3)
            mark = time.monotonic()

        # quiesce: flush Postgres's dirty pages (a short recovery on the copy), then freeze the
        # file system while the snapshot is taken. The CHECKPOINT runs while the tool connects
        # to the cluster; the freeze waits for it.
        golden_socket = ("-h", "/run/postgresql", "-p", str(cfg["port_base"]))
        checkpoint = _start("psql", *golden_socket, "-qc", "CHECKPOINT", user="postgres")
        depth = 1 + _snapshot_and_clone(
            cluster,
            pool,
            golden,
            snap,
            image,
            MOUNT_ROOT / instance(db_set, "golden"),
            lambda: _wait(checkpoint),
            step,
        )
        cloned_s = time.monotonic() - started
        flattened = depth > int(cfg["max_clone_depth"])
        if flattened:
            _run("rbd", "--cluster", cluster, "flatten", f"{pool}/{image}")
            step("flatten_s")
        port = free_port(cfg, clones)
        name = instance(db_set, user)
        (CONF_DIR / f"{name}.env").write_text(env_file(cfg, image, MOUNT_ROOT / name, port))
        clones[user] = {
            "image": image,
            "snapshot": snap,
            "port": port,
            "created": now,
            "expires": now + 3600 * float(cfg["lifetime_h"]),
            "depth": depth,
            "flattened": flattened,
        }
    # Type=notify: returns once Postgres has recovered and accepts connections
    _run("systemctl", "start", UNIT.format(name))
    step("postgres_start_s")
    # the answer is given once the copy answers a query
    answered = _run(
        "psql", "-h", "/run/postgresql", "-p", str(port), "-Atqc", "select 1", user="postgres"
    )
    if answered.strip() != "1":
        raise DbError(f"the copy on port {port} answered {answered.strip()!r} to select 1")
    step("select_1_s")
    return {
        **clones[user],
        "user": user,
        "clone_s": round(cloned_s, 3),
        "ready_s": round(time.monotonic() - started, 3),
        "steps": steps,
    }


@contextlib.contextmanager
def frozen_fs(mount: Path) -> Iterator[None]:
    """The file system at ``mount`` frozen (its dirty data and journal written out, new writes
    held) for the duration; thawed however the block exits. fsfreeze(8)'s ioctls, without
    starting a process for each."""
    fd = os.open(mount, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.ioctl(fd, FIFREEZE, 0)
        except OSError as exc:
            raise DbError(f"cannot freeze {mount}: {exc}") from exc
        try:
            yield
        finally:
            fcntl.ioctl(fd, FITHAW, 0)
    finally:
        os.close(fd)


def _snapshot_and_clone(
    cluster: str,
    pool: str,
    golden: str,
    snap: str,
    image: str,
    frozen: Path,
    quiesced: Callable[[], object],
    step: Any,
) -> int:
    """Once ``quiesced()`` returns, freeze ``frozen``, snapshot ``golden``, thaw; protect the
    snapshot and clone it to ``image``. One cluster connection for all of it (each ``rbd``
    command would connect anew, ~0.2 s apiece). The clone depth of ``golden``."""
    import rados  # python3-rados and python3-rbd: on the db host only
    import rbd

    with rados.Rados(conffile=f"/etc/ceph/{cluster}.conf", clustername=cluster) as conn:
        with conn.open_ioctx(pool) as ioctx, rbd.Image(ioctx, golden) as parent:
            step("connect_s")
            quiesced()
            step("checkpoint_s")
            with frozen_fs(frozen):
                step("freeze_s")
                # the file system is frozen already: no quiesce round to the image's watchers
                parent.create_snap(snap, flags=rbd.RBD_SNAP_CREATE_SKIP_QUIESCE)
                step("snapshot_s")
            step("thaw_s")
            parent.protect_snap(snap)
            step("protect_s")
            rbd.RBD().clone(ioctx, golden, snap, ioctx, image)
            step("clone_s")

        def info(spec: str) -> dict[str, Any]:
            pool_name, name = spec.split("/", 1)
            with conn.open_ioctx(pool_name) as io, rbd.Image(io, name, read_only=True) as img:
                try:
                    above = img.parent_info()
                except rbd.ImageNotFound:  # no parent: the top of the chain
                    return {}
            return {"parent": {"pool": above[0], "image": above[1]}}

        depth = chain_depth(info(f"{pool}/{golden}"), info)
        step("depth_s")
    return depth


def drop(cfg: dict[str, Any], db_set: str, user: str) -> dict[str, Any]:
    """Stop ``user``'s copy and remove its clone and snapshot."""
    pool, cluster, golden = cfg["pool"], cfg["cluster"], cfg["golden_image"]
    with Registry(db_set).open() as clones:
        entry = clones.get(user)
        if entry is None:
            raise DbError(f"{user} has no copy of {db_set}")
        name = instance(db_set, user)
        _run("systemctl", "stop", UNIT.format(name))
        _run("rbd", "--cluster", cluster, "rm", "--no-progress", f"{pool}/{entry['image']}")
        snap = f"{pool}/{golden}@{entry['snapshot']}"
        _run("rbd", "--cluster", cluster, "snap", "unprotect", snap)
        _run("rbd", "--cluster", cluster, "snap", "rm", "--no-progress", snap)
        (CONF_DIR / f"{name}.env").unlink(missing_ok=True)
        del clones[user]
    return {"dropped": user}


def expire(cfg: dict[str, Any], db_set: str, now: float) -> list[str]:
    """Drop every expired copy; the users dropped."""
    with Registry(db_set).open() as clones:
        users = expired(clones, now)
    for user in users:
        drop(cfg, db_set, user)
    return users


def listing(cfg: dict[str, Any], db_set: str, now: float) -> dict[str, Any]:
    """Every live copy (expired ones are dropped first)."""
    dropped = expire(cfg, db_set, now)
    with Registry(db_set).open() as clones:
        return {"copies": {u: dict(c) for u, c in sorted(clones.items())}, "expired": dropped}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in {"clone", "list", "drop", "expire"}:
        print(__doc__, file=sys.stderr)
        return 2
    db_set, command, rest = argv[0], argv[1], argv[2:]
    now = time.time()
    try:
        cfg = json.loads((CONF_DIR / f"{db_set}.json").read_text())
        if command in {"clone", "drop"} and len(rest) != 1:
            raise DbError(f"usage: mlsite-db {db_set} {command} USER")
        if command == "clone":
            out: Any = clone(cfg, db_set, rest[0], now)
        elif command == "drop":
            out = drop(cfg, db_set, rest[0])
        elif command == "expire":
            out = {"expired": expire(cfg, db_set, now)}
        else:
            out = listing(cfg, db_set, now)
    except (DbError, OSError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The mlsite-db tool's pure parts: ports, expiry, clone depth."""

from __future__ import annotations

from mlsite.storage import dbtool

CFG = {
    "port_base": 15432,
    "golden_image": "g",
    "pool": "rbd",
    "rbd_mode": "krbd",
    "engine_version": "15",
}


def test_ports_start_above_the_golden_copy_and_fill_gaps() -> None:
    assert dbtool.free_port(CFG, {}) == 15433
    clones = {"a": {"port": 15433}, "b": {"port": 15435}}
    assert dbtool.free_port(CFG, clones) == 15434


def test_expired_copies() -> None:
    clones = {"a": {"expires": 10.0}, "b": {"expires": 30.0}}
    assert dbtool.expired(clones, 20.0) == ["a"]


def test_clone_depth_follows_parents() -> None:
    chain = {
        "rbd/c2": {"parent": {"pool": "rbd", "image": "c1", "snapshot": "s"}},
        "rbd/c1": {"parent": {"pool": "rbd", "image": "g", "snapshot": "s"}},
        "rbd/g": {},
    }
    assert dbtool.chain_depth(chain["rbd/c2"], chain.__getitem__) == 2
    assert dbtool.chain_depth(chain["rbd/g"], chain.__getitem__) == 0


def test_env_file_names_image_mount_and_port() -> None:
    env = dbtool.env_file(CFG, "g-alice", dbtool.MOUNT_ROOT / "x-alice", 15433)
    assert "IMAGE=rbd/g-alice\n" in env and "PORT=15433\n" in env and "MODE=krbd\n" in env

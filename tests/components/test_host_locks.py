"""Roles started together by the engine run one at a time on any one host."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mlsite.hosts.contract import host_locks


def request(*addresses: str) -> dict[str, object]:
    return {"hosts": [{"name": a, "address": a, "port": 22} for a in addresses]}


def test_one_host_one_role_at_a_time_other_hosts_go_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSITE_HOST_LOCKS", str(tmp_path))
    events: list[str] = []
    release_first = threading.Event()
    first_holds = threading.Event()

    def first() -> None:
        with host_locks(request("10.0.0.1", "10.0.0.2")):
            events.append("first in")
            first_holds.set()
            release_first.wait(10)
            events.append("first out")

    def same_host() -> None:
        with host_locks(request("10.0.0.2")):
            events.append("same host in")

    def other_host() -> None:
        with host_locks(request("10.0.0.3")):
            events.append("other host in")

    t1 = threading.Thread(target=first)
    t1.start()
    assert first_holds.wait(10)
    t2 = threading.Thread(target=same_host)
    t3 = threading.Thread(target=other_host)
    t2.start()
    t3.start()
    t3.join(10)
    assert "other host in" in events  # not held up by the first role
    assert "same host in" not in events  # waits while the first role holds 10.0.0.2
    release_first.set()
    t1.join(10)
    t2.join(10)
    assert events.index("same host in") > events.index("first out")

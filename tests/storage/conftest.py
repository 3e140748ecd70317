"""Storage fixtures: one Ceph cluster on the session lab, applied once and shared."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import LabSession
from tests.storage.labrun import apply_role, errors

HEALTH_TIMEOUT_S = 180


@dataclass(frozen=True)
class CephOnLab:
    """The lab's Ceph cluster and how long it took."""

    lab: LabSession
    apply_s: float
    health_ok_s: float
    """From the start of the first apply to HEALTH_OK."""


def wait_health_ok(lab: LabSession, host: str, timeout_s: float = HEALTH_TIMEOUT_S) -> str:
    """Wait for HEALTH_OK; the last status seen."""
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        proc = lab.run(host, "ceph health -f json", check=False, timeout=30)
        if proc.returncode == 0:
            status = json.loads(proc.stdout).get("status", "")
            if status == "HEALTH_OK":
                return status
        time.sleep(1)
    detail = lab.run(host, "ceph health detail", check=False).stdout
    raise AssertionError(f"no HEALTH_OK after {timeout_s} s (last {status}):\n{detail}")


@pytest.fixture(scope="session")
def ceph_lab(lab: LabSession) -> Iterator[CephOnLab]:
    """Apply the ceph role to the lab stack's hosts and wait for HEALTH_OK."""
    started = time.monotonic()
    result = apply_role(lab, "ceph")
    applied = time.monotonic() - started
    assert result["ok"], errors(result)
    wait_health_ok(lab, "lab-1")
    yield CephOnLab(lab=lab, apply_s=applied, health_ok_s=time.monotonic() - started)

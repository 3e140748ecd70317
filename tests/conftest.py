"""Shared fixtures. `lab`: one session-wide lab (three SSH-ready hosts of the lab stack).

Tests that use the lab are marked `@pytest.mark.lab`; they skip only when not run as root.

    @pytest.mark.lab
    def test_something(lab: LabSession) -> None:
        assert lab.run("lab-1", "hostname").stdout.strip() == "lab-1"
        inventory = lab.pyinfra_inventory()      # pyinfra API
        lab.write_inventory(tmp_path / "inv.py")  # pyinfra CLI: pyinfra inv.py deploy.py
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlsite.lab import Lab, LabDirs, LabHost, LabPlan, plan_lab
from mlsite.lab.net import check_owner
from mlsite.lab.plan import DEFAULT_DEBIAN
from mlsite.lab.ssh import ssh_args

LAB_STACK = "lab"
"""The small lab site the session lab runs: stacks/Pulumi.lab.yaml (lab-1..3 on 10.77.0.0/24)."""
DEBIAN_ENV = "MLSITE_TEST_DEBIAN"
"""The Debian release the session lab's hosts boot (12 unless set; `make test-debian13`)."""


def lab_test_debian() -> int:
    """The Debian major release lab tests run on (env MLSITE_TEST_DEBIAN, default 12)."""
    return int(os.environ.get(DEBIAN_ENV) or DEFAULT_DEBIAN)


def lab_test_dirs() -> LabDirs:
    """State dir of the test lab (env MLSITE_LAB_TEST_DIR, default `lab-test` beside the lab's own);
    the rootfs cache is the lab's usual one, so tests never rebuild it."""
    default = LabDirs.from_env()
    state = Path(os.environ.get("MLSITE_LAB_TEST_DIR") or default.state.parent / "lab-test")
    return LabDirs(state=state.absolute(), cache=default.cache)


@dataclass(frozen=True)
class LabHostRef:
    """A lab host as tests see it."""

    name: str
    address: str


@dataclass(frozen=True)
class LabSession:
    """The running session lab: its hosts, how to reach them, and the `Lab` for drills."""

    lab: Lab
    plan: LabPlan
    hosts: tuple[LabHostRef, ...]
    ssh_user: str
    ssh_port: int
    ssh_key: Path
    known_hosts: Path

    @classmethod
    def of(cls, lab: Lab) -> LabSession:
        """A session over a lab that is already up (benchmarks bring their own labs up)."""
        plan = lab.plan()
        return cls(
            lab=lab,
            plan=plan,
            hosts=tuple(LabHostRef(h.name, str(h.address)) for h in plan.hosts),
            ssh_user=plan.hosts[0].ssh_user,
            ssh_port=plan.hosts[0].ssh_port,
            ssh_key=lab.dirs.ssh_key,
            known_hosts=lab.dirs.known_hosts,
        )

    @property
    def gateway(self) -> str:
        """The lab's own address on the bridge (apt proxy, fence daemon)."""
        return str(self.plan.gateway)

    def host(self, name: str) -> LabHost:
        """The planned lab host called `name`."""
        return self.plan.host(name)

    def ssh_command(self, host: str, command: str) -> list[str]:
        """The ssh argument list that runs `command` on `host`."""
        return [*ssh_args(self.lab.dirs, self.host(host)), "--", command]

    def run(
        self, host: str, command: str, *, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command on a lab host over SSH; with `check`, fail on non-zero exit."""
        proc = subprocess.run(
            self.ssh_command(host, command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{host}: `{command}` exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def ssh_data(self, host: str) -> dict[str, Any]:
        """pyinfra host data for the SSH connector (strict host keys, the lab key)."""
        planned = self.host(host)
        return {
            "ssh_hostname": str(planned.address),
            "ssh_user": planned.ssh_user,
            "ssh_port": planned.ssh_port,
            "ssh_key": str(self.ssh_key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
        }

    def pyinfra_hosts(self) -> list[tuple[str, dict[str, Any]]]:
        """`(name, data)` pairs, as `pyinfra.api.Inventory((hosts, {}))` takes them."""
        return [(h.name, self.ssh_data(h.name)) for h in self.hosts]

    def pyinfra_inventory(self) -> Any:
        """A pyinfra `Inventory` of every lab host."""
        from pyinfra.api import Inventory

        return Inventory((self.pyinfra_hosts(), {}))

    def restore(self) -> None:
        """Undo drills: heal every cut and partition, power every stopped host on."""
        self.lab.heal()
        for status in self.lab.status().hosts:
            if not status.running:
                self.lab.start(status.name)

    def write_inventory(self, path: Path) -> Path:
        """Write a pyinfra inventory file (for `pyinfra PATH deploy.py`) and return its path."""
        lines = ["lab_hosts = ["]
        lines += [f"    ({name!r}, {data!r})," for name, data in self.pyinfra_hosts()]
        lines.append("]")
        path.write_text("\n".join(lines) + "\n")
        return path


@pytest.fixture(scope="session", autouse=True)
def fact_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Fact plans (mlsite.hosts.prefetch) of this session's runs, in the session's own directory
    rather than the user's cache (the runner subprocess inherits it)."""
    directory = tmp_path_factory.mktemp("fact-plans")
    directory.chmod(0o700)
    before = os.environ.get("MLSITE_FACT_PLANS")
    os.environ["MLSITE_FACT_PLANS"] = str(directory)
    yield directory
    if before is None:
        os.environ.pop("MLSITE_FACT_PLANS", None)
    else:
        os.environ["MLSITE_FACT_PLANS"] = before


@pytest.fixture(scope="session")
def lab() -> Iterator[LabSession]:
    """Bring the lab stack's hosts up once per session (fresh), and take everything down after."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (namespaces, mounts, loop devices); run pytest as root")
    from mlsite.spec import load_stack

    dirs = lab_test_dirs()
    plan = plan_lab(load_stack(LAB_STACK).site, debian=lab_test_debian())
    the_lab = Lab(dirs)
    # One lab per machine (one bridge, fixed addresses): test sessions running at once in
    # several checkouts wait for each other instead of tearing each other's lab down.
    dirs.state.parent.mkdir(parents=True, exist_ok=True)
    lock = (dirs.state.parent / "lab-test.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    check_owner(str(dirs.state))
    the_lab.down()  # a fresh lab: nothing left from an earlier, interrupted session
    try:
        the_lab.up(plan)
        first = plan.hosts[0]
        yield LabSession(
            lab=the_lab,
            plan=plan,
            hosts=tuple(LabHostRef(h.name, str(h.address)) for h in plan.hosts),
            ssh_user=first.ssh_user,
            ssh_port=first.ssh_port,
            ssh_key=dirs.ssh_key,
            known_hosts=dirs.known_hosts,
        )
    finally:
        the_lab.down()
        lock.close()

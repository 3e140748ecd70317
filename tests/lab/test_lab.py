"""The lab for real: three hosts up, pyinfra over SSH, apt through the proxy, drills, fencing, down."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlsite.lab import LabDirs, disks, machine, net, procs, teardown
from mlsite.lab.errors import LabError
from mlsite.spec import stack_path
from tests.conftest import LabSession

pytestmark = pytest.mark.lab


def reaches(lab: LabSession, source: str, target: str) -> bool:
    """Whether `source` gets an answer to one ping of `target`'s address."""
    address = lab.host(target).address
    return lab.run(source, f"ping -c1 -W1 {address}", check=False).returncode == 0


def reaches_soon(lab: LabSession, source: str, target: str, within_s: float = 5) -> bool:
    """Whether `source` reaches `target` within a few seconds: after a heal, a neighbour entry
    that failed while the link was broken is resolved again on the next tries (about 1 s)."""
    deadline = time.monotonic() + within_s
    while not reaches(lab, source, target):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_every_host_is_up_with_its_address_and_disk(lab: LabSession) -> None:
    assert [h.name for h in lab.hosts] == ["lab-1", "lab-2", "lab-3"]
    for host in lab.hosts:
        out = lab.run(
            host.name,
            "hostname; ip -4 -o addr show dev eth0; systemctl is-system-running --wait || true",
        )
        assert out.stdout.splitlines()[0] == host.name
        assert f"{host.address}/24" in out.stdout
        # Booted: "running" on a fresh lab. Other test modules share this lab and install
        # services (some cannot start in a container), so "degraded" also means booted.
        state = out.stdout.strip().splitlines()[-1]
        failed = lab.run(host.name, "systemctl --failed --no-legend --plain").stdout
        assert state in ("running", "degraded"), f"{host.name}: {state}; failed units: {failed}"
        assert lab.run(host.name, "systemctl is-active ssh").stdout.strip() == "active"
        disk = lab.run(
            host.name, "test -b /dev/disk/by-id/lab-osd-0 && readlink /dev/disk/by-id/lab-osd-0"
        )
        assert disk.stdout.strip().startswith("/dev/loop")
        assert lab.run(
            host.name, "blockdev --getsize64 /dev/disk/by-id/lab-osd-0"
        ).stdout.strip() == str(10 * 1024**3)


def test_pyinfra_operations_run_on_every_host_over_ssh(lab: LabSession) -> None:
    from pyinfra.api import Config, State
    from pyinfra.api.connect import connect_all
    from pyinfra.api.operation import add_op
    from pyinfra.api.operations import run_ops
    from pyinfra.operations import files

    state = State(lab.pyinfra_inventory(), Config())
    connect_all(state)
    assert len(state.activated_hosts) == 3
    add_op(
        state,
        files.put,
        name="Mark the host",
        src=io.StringIO("deployed by pyinfra\n"),
        dest="/etc/mlsite-mark",
    )
    run_ops(state)
    assert not state.failed_hosts
    for host in lab.hosts:
        assert lab.run(host.name, "cat /etc/mlsite-mark").stdout == "deployed by pyinfra\n"


def test_pyinfra_cli_reaches_hosts_with_the_written_inventory(
    lab: LabSession, tmp_path: Path
) -> None:
    inventory = lab.write_inventory(tmp_path / "inventory.py")
    pyinfra = Path(sys.executable).parent / "pyinfra"
    proc = subprocess.run(
        [
            str(pyinfra),
            "--yes",
            str(inventory),
            "server.shell",
            "commands=touch /tmp/from-pyinfra-cli",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert lab.run("lab-3", "test -f /tmp/from-pyinfra-cli").returncode == 0


def test_apt_installs_through_the_lab_proxy(lab: LabSession) -> None:
    lab.run(
        "lab-2",
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq",
        timeout=600,
    )
    assert lab.run("lab-2", "jq --version").stdout.startswith("jq-")
    proxy_log = (lab.lab.dirs.run / "apt-cacher-ng-log" / "apt-cacher.log").read_text()
    assert "jq_" in proxy_log
    config = lab.run("lab-2", "apt-config dump Acquire").stdout
    assert 'Acquire::http::Timeout "30"' in config, "a stalled proxy request must not hang apt"
    assert 'Acquire::http::Pipeline-Depth "0"' in config


def test_crash_powers_off_and_start_boots_with_the_files_kept(lab: LabSession) -> None:
    lab.run("lab-2", "echo survives > /root/crash-proof && sync")
    lab.lab.crash("lab-2")
    try:
        assert not reaches(lab, "lab-1", "lab-2")
        assert lab.run("lab-2", "true", check=False).returncode != 0
        assert not next(h for h in lab.lab.status().hosts if h.name == "lab-2").running
    finally:
        started = time.monotonic()
        lab.lab.start("lab-2")
    assert time.monotonic() - started < 30
    # The kernel is shared, so the host's age is that of its PID 1: kernel uptime minus
    # PID 1's start time (field 22 of /proc/1/stat, in clock ticks since boot).
    out = lab.run("lab-2", "cut -d' ' -f1 /proc/uptime; cut -d' ' -f22 /proc/1/stat").stdout.split()
    age_s = float(out[0]) - int(out[1]) / os.sysconf("SC_CLK_TCK")
    assert age_s < time.monotonic() - started + 5, "lab-2 booted afresh (a new PID 1)"
    assert lab.run("lab-2", "cat /root/crash-proof").stdout == "survives\n"
    assert reaches(lab, "lab-1", "lab-2")


SYSTEMD = "usr/lib/systemd/systemd"
"""The init systemd-nspawn boots first (before /lib/systemd/systemd and /sbin/init)."""


def test_a_host_that_cannot_boot_is_explained_and_its_console_log_kept(lab: LabSession) -> None:
    root = machine.HostLayout(lab.lab.dirs, lab.plan.host("lab-2")).root
    lab.lab.crash("lab-2")
    (root / SYSTEMD).rename(root / f"{SYSTEMD}.aside")
    try:
        with pytest.raises(LabError) as info:
            lab.lab.start("lab-2", boot_timeout_s=30)
    finally:
        (root / f"{SYSTEMD}.aside").rename(root / SYSTEMD)
    message = str(info.value)
    assert "the host's init cannot be started" in message, message
    assert "second boot" not in message  # a lasting cause: not retried
    kept = Path(message.split("Its console log is ", 1)[1].split(" ", 1)[0])
    assert kept.parent == lab.lab.dirs.logs and "execv(" in kept.read_text()
    lab.lab.start("lab-2")  # the cause removed, it boots
    assert lab.run("lab-2", "hostname").stdout.strip() == "lab-2"


def test_a_boot_that_fails_once_is_retried(
    lab: LabSession, capfd: pytest.CaptureFixture[str]
) -> None:
    root = machine.HostLayout(lab.lab.dirs, lab.plan.host("lab-2")).root
    lab.lab.crash("lab-2")
    (root / SYSTEMD).rename(root / f"{SYSTEMD}.real")
    once = root / SYSTEMD
    once.write_text(
        "#!/bin/sh\n"
        '[ -e /boot-failed-once ] && exec /usr/lib/systemd/systemd.real "$@"\n'
        "touch /boot-failed-once; exit 1\n"
    )
    once.chmod(0o755)
    try:
        lab.lab.start("lab-2")
    finally:
        (root / f"{SYSTEMD}.real").replace(root / SYSTEMD)
        (root / "boot-failed-once").unlink(missing_ok=True)
    assert "nothing there shows a lasting cause: booting it once more" in capfd.readouterr().err
    assert lab.run("lab-2", "hostname").stdout.strip() == "lab-2"


def test_up_boots_a_host_that_died_on_its_own(lab: LabSession) -> None:
    """A host whose machine stopped without `lab crash` (its process record left behind) is
    booted by the next `lab up`, which waits on the new machine, not the dead one."""
    host = lab.plan.host("lab-3")
    [pid] = [h.pid for h in lab.lab.status().hosts if h.name == "lab-3"]
    machine.power_off(host, pid)
    lab.lab.up(lab.plan)
    assert lab.run("lab-3", "hostname").stdout.strip() == "lab-3"


def test_cut_takes_the_link_down_and_heal_restores_it(lab: LabSession) -> None:
    lab.lab.cut("lab-3")
    try:
        assert not reaches(lab, "lab-1", "lab-3")
        assert lab.run("lab-3", "true", check=False).returncode != 0
    finally:
        lab.lab.heal("lab-3")
    assert reaches_soon(lab, "lab-1", "lab-3")


def test_partition_separates_two_hosts_only(lab: LabSession) -> None:
    lab.lab.partition("lab-1", "lab-2")
    try:
        assert not reaches(lab, "lab-1", "lab-2")
        assert not reaches(lab, "lab-2", "lab-1")
        assert reaches(lab, "lab-1", "lab-3")
        assert reaches(lab, "lab-2", "lab-3")
    finally:
        lab.lab.heal()
    assert reaches_soon(lab, "lab-1", "lab-2") and reaches_soon(lab, "lab-2", "lab-1")


def test_fence_agent_metadata_is_valid_xml(lab: LabSession) -> None:
    out = lab.run("lab-1", "fence_mlsite_lab -o metadata").stdout
    root = ET.fromstring(out)
    assert root.tag == "resource-agent" and root.get("name") == "fence_mlsite_lab"
    actions = {a.get("name") for a in root.iter("action")}
    assert {"on", "off", "reboot", "status", "monitor", "list", "metadata"} <= actions


def test_fence_agent_powers_a_host_off_and_on(lab: LabSession) -> None:
    listed = lab.run("lab-1", "fence_mlsite_lab -o list").stdout.split()
    assert listed == ["lab-1,", "lab-2,", "lab-3,"]
    # pacemaker's fencer passes options as key=value lines on stdin
    off = lab.run("lab-1", "printf 'action=off\\nport=lab-3\\n' | fence_mlsite_lab")
    assert "powered OFF" in off.stdout
    try:
        status = lab.run("lab-1", "fence_mlsite_lab -o status -n lab-3", check=False)
        assert (status.returncode, status.stdout.strip()) == (2, "Status: OFF")
        assert not reaches(lab, "lab-1", "lab-3")
        bad = lab.run(
            "lab-1",
            "printf 'action=off\\nplug=lab-3\\npassword=wrong\\n' | fence_mlsite_lab",
            check=False,
        )
        assert bad.returncode == 1 and "bad token" in bad.stderr
    finally:
        lab.run("lab-1", "fence_mlsite_lab -o on -n lab-3")
    assert lab.run("lab-1", "fence_mlsite_lab -o status -n lab-3").stdout.strip() == "Status: ON"
    assert lab.run("lab-3", "hostname").stdout.strip() == "lab-3"


def assert_nothing_left(dirs: LabDirs) -> None:
    """No process, namespace, link, mount, loop device or filter of the lab exists."""
    deadline = time.monotonic() + 10
    while teardown.lab_processes(dirs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert teardown.lab_processes(dirs) == []
    assert not [p for p in procs.find_by_argument("systemd-nspawn") if procs.is_alive(p)]
    netns = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "mls-" not in netns and "mls-" not in links
    assert net.lab_netns() == [] and net.lab_links() == []
    assert machine.lab_mounts(dirs.state) == []
    assert str(dirs.state) not in Path("/proc/self/mountinfo").read_text()
    assert [b for b in disks.attached().values() if str(dirs.state) in b] == []
    assert (
        "mls_lab"
        not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    )
    assert json.loads(dirs.state_file.read_text())["resources"] == []


def test_down_leaves_nothing_behind(lab: LabSession) -> None:
    try:
        lab.lab.down()
        assert_nothing_left(lab.lab.dirs)
    finally:
        lab.lab.up(lab.plan)  # the session lab is shared with other test modules: bring it back


def test_down_cleans_up_after_a_killed_up(lab: LabSession) -> None:
    dirs = lab.lab.dirs
    try:
        lab.lab.down()
        env = {**os.environ, "MLSITE_LAB_DIR": str(dirs.state), "MLSITE_LAB_CACHE": str(dirs.cache)}
        up = subprocess.Popen(
            [sys.executable, "-m", "mlsite.lab", "up", "--stack", "lab"],
            cwd=stack_path("lab").parent.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not net.netns_exists(lab.host("lab-2").netns) and time.monotonic() < deadline:
            time.sleep(0.01)
        up.kill()  # dies halfway: some hosts half-made, nothing recorded after this instant
        up.wait()
        assert net.lab_links(), "the killed `lab up` should have left something to clean"
        lab.lab.down()
        assert_nothing_left(dirs)
    finally:
        lab.lab.up(lab.plan)
    assert lab.run("lab-1", "hostname").stdout.strip() == "lab-1"

"""Taking the lab apart: what the state file recorded, plus whatever carries the lab's names.

Both, because a lab command may have died between creating something and recording it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from mlsite.lab import cgroups, disks, machine, net, procs
from mlsite.lab.paths import LabDirs
from mlsite.lab.state import LabState
from mlsite.lab.tools import run

NSPAWN_PROPAGATE = Path("/run/systemd/nspawn/propagate")
_OUR_PROGRAMS = ("systemd-nspawn", "apt-cacher-ng")


def lab_processes(dirs: LabDirs) -> list[int]:
    """Processes of this lab found by their command line: hosts, proxy, fence daemon."""
    found = []
    for pid in procs.find_by_path(dirs.state):
        args = procs.cmdline(pid)
        programs = {os.path.basename(a) for a in args}
        if programs & set(_OUR_PROGRAMS) or "mlsite.lab.fenced" in args:
            found.append(pid)
    return found


def anything_left(dirs: LabDirs) -> bool:
    """Whether any process, mount, network object or loop device of the lab still exists."""
    return bool(
        lab_processes(dirs)
        or machine.lab_mounts(dirs.state)
        or net.lab_netns()
        or net.lab_links()
        or disks.lab_loops(dirs.state)
    )


def teardown(dirs: LabDirs, state: LabState) -> list[str]:
    """Remove every process, cgroup, filter, mount, loop device, namespace and link of the lab."""
    removed: list[str] = []
    # Recorded process ids are not trusted alone (a pid may be reused after a reboot): every
    # lab process names the state dir on its command line, so that is how they are found.
    pids = set(lab_processes(dirs))
    # Hosts first, all at once: killing their cgroups is a power cut, nothing to shut down cleanly.
    cgroups.remove_all()
    for pid in sorted(pids):
        if procs.is_alive(pid):
            procs.terminate(pid, timeout_s=5)
            removed.append(f"process {pid}")
    net.remove_partitions()
    for point in machine.lab_mounts(dirs.state):
        if run(["umount", str(point)], check=False).returncode != 0:
            # Still busy (a shell sitting in it): detach it now, the kernel frees it when idle.
            run(["umount", "--lazy", str(point)], check=False)
        removed.append(f"mount {point}")
    # host disks, and loop devices lab hosts attached themselves (rbd-fuse files), which
    # outlive the hosts: after the hosts are gone and their mounts are released
    for device in disks.detach_lab_loops(dirs.state):
        removed.append(f"loop {device}")
    recorded_ns = {r.name for r in state.resources if r.kind == "netns"}
    for name in sorted(recorded_ns | set(net.lab_netns())):
        if net.netns_exists(name):
            net.delete_netns(name)
            removed.append(f"netns {name}")
    recorded_links = {r.name for r in state.resources if r.kind == "link"}
    for name in sorted(recorded_links | set(net.lab_links())):
        if net.link_exists(name):
            net.delete_link(name)
            removed.append(f"link {name}")
    for host in state.plan.hosts if state.plan else ():
        with contextlib.suppress(OSError):
            (NSPAWN_PROPAGATE / host.name).rmdir()
    if not machine.lab_mounts(dirs.state):
        shutil.rmtree(dirs.hosts, ignore_errors=True)
    shutil.rmtree(dirs.run, ignore_errors=True)
    # The lab stack's engine state describes the hosts just removed: forget it with them, so
    # the next lab's `pulumi up` applies every role to the new hosts (mlsite.engine.run).
    if (dirs.state / "pulumi").exists():
        shutil.rmtree(dirs.state / "pulumi", ignore_errors=True)
        removed.append("the lab stack's Pulumi state")
    return removed


def purge(dirs: LabDirs) -> None:
    """Delete the whole state directory (key, apt cache, unpacked rootfs); the rootfs cache stays."""
    shutil.rmtree(dirs.state, ignore_errors=True)

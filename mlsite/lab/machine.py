"""One lab host as a machine: its overlay root, its systemd-nspawn process, power on and off."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

from mlsite.lab import cgroups, procs
from mlsite.lab.errors import BootFailed, LabError
from mlsite.lab.paths import LabDirs
from mlsite.lab.plan import LabHost
from mlsite.lab.tools import run

CAPABILITIES = "CAP_NET_ADMIN,CAP_IPC_LOCK"
"""Added to nspawn's defaults: corosync and floating IPs need them."""
SYSCALLS = "open_by_handle_at"
"""Allowed beyond nspawn's filter: nfs-ganesha needs it."""


@dataclass(frozen=True)
class HostLayout:
    """Where a host's pieces live in its directory."""

    dirs: LabDirs
    host: LabHost

    @property
    def directory(self) -> Path:
        """The host's directory."""
        return self.dirs.host_dir(self.host.name)

    @property
    def upper(self) -> Path:
        """The host's own writable layer (persists across crash and start)."""
        return self.directory / "upper"

    @property
    def work(self) -> Path:
        """overlayfs work directory."""
        return self.directory / "work"

    @property
    def root(self) -> Path:
        """The merged root the host boots from."""
        return self.directory / "root"

    @property
    def console(self) -> Path:
        """The host's console output."""
        return self.directory / "console.log"

    def disk_image(self, slug: str) -> Path:
        """The sparse file behind one of the host's disks."""
        return self.directory / "disks" / f"{slug}.img"


def is_mounted(path: Path) -> bool:
    """Whether `path` is a mount point (per /proc/self/mountinfo)."""
    target = str(path)
    with open("/proc/self/mountinfo") as info:
        return any(line.split()[4] == target for line in info)


def lab_mounts(under: Path) -> list[Path]:
    """Every mount point under `under`, deepest first."""
    prefix = str(under) + "/"
    with open("/proc/self/mountinfo") as info:
        points = [line.split()[4] for line in info]
    return sorted({Path(p) for p in points if p.startswith(prefix)}, key=lambda p: -len(p.parts))


def mount_root(layout: HostLayout, base: Path) -> None:
    """Mount the host's overlay: the shared rootfs below, its own layer on top (idempotent)."""
    if is_mounted(layout.root):
        return
    for path in (layout.upper, layout.work, layout.root):
        path.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={base},upperdir={layout.upper},workdir={layout.work}"
    run(["mount", "-t", "overlay", f"mls-{layout.host.slug}", "-o", options, str(layout.root)])


def nspawn_args(layout: HostLayout, devices: list[str]) -> list[str]:
    """The systemd-nspawn command line that boots the host.

    /proc/uptime is this machine's (no lxcfs: nspawn could not stat lxcfs's uptime from
    inside its namespaces here), so pyinfra's reboot operation cannot be rehearsed; no
    mlsite deploy reboots a host.
    """
    host = layout.host
    return [
        "systemd-nspawn",
        "--quiet",
        "--boot",
        "--keep-unit",
        "--register=no",
        f"--machine={host.name}",
        f"--network-namespace-path=/run/netns/{host.netns}",
        f"--directory={layout.root}",
        "--console=read-only",
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        f"--capability={CAPABILITIES}",
        f"--system-call-filter={SYSCALLS}",
        *[f"--bind={dev}" for dev in devices],
    ]


def power_on(layout: HostLayout, devices: list[str]) -> int:
    """Boot the host in fresh cgroups of its own; return the nspawn process id."""
    groups = cgroups.create(layout.host.name)
    return procs.spawn(nspawn_args(layout, devices), layout.console, groups)


def is_running(pid: int) -> bool:
    """Whether the host's nspawn process still runs."""
    return procs.is_alive(pid)


def power_off(host: LabHost, pid: int) -> None:
    """Cut the power: kill every process of the host at once (init, services, nspawn)."""
    for group in cgroups.host_cgroups(host.name):
        cgroups.remove(group)
    procs.terminate(pid, hard=True, timeout_s=5)


def wait_ssh(hosts: list[LabHost], timeout_s: float, pids: dict[str, int]) -> None:
    """Wait until every host's sshd answers with its banner; fail naming the stragglers."""
    waiting = {h.name: h for h in hosts}
    deadline = time.monotonic() + timeout_s
    while waiting:
        for name, host in list(waiting.items()):
            if _ssh_banner(host):
                del waiting[name]
            elif not procs.is_alive(pids[name]):
                raise BootFailed(name)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise LabError(
                f"lab host(s) {', '.join(sorted(waiting))} not SSH-ready after {timeout_s:.0f} s"
            )
        time.sleep(0.1)


PERSISTENT = (
    ("execv(", "the host's init cannot be started"),
    ("Exec format error", "the host's init is not a program for this machine"),
    ("doesn't look like an OS root", "the host's root is not an operating system tree"),
)
"""Console lines that mean a second boot fails the same way: explained, not retried."""


def boot_failure(console: str) -> str | None:
    """Why a boot failed for good, from the host's console output (None: nothing shows a
    lasting cause, so one more boot is worth trying)."""
    for text, meaning in PERSISTENT:
        if text in console:
            line = next(line for line in console.splitlines() if text in line)
            return f"{meaning} ({line.strip()[:200]})"
    return None


def console_size(layout: HostLayout) -> int:
    """How much the host's console log holds (it grows by one boot at a time)."""
    return layout.console.stat().st_size if layout.console.exists() else 0


def keep_console(layout: HostLayout, logs: Path, attempt: int, since: int = 0) -> Path:
    """Copy the host's console output from offset ``since`` (the failed boot's) where
    `lab down` leaves it; the copy's path."""
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    kept = logs / f"{layout.host.name}-boot-{stamp}-{attempt}.log"
    text = ""
    if layout.console.exists():
        with layout.console.open("rb") as console:
            console.seek(since)
            text = console.read().decode(errors="replace")
    kept.write_text(text or "(the host printed nothing on its console)\n")
    return kept


def _ssh_banner(host: LabHost) -> bool:
    try:
        with socket.create_connection((str(host.address), host.ssh_port), timeout=0.5) as conn:
            conn.settimeout(1)
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False

"""The lab: bring hosts up, power them off and on, cut and partition their links."""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlsite import sshmux
from mlsite.lab import disks, machine, net, procs, proxy, rootfs, ssh, teardown
from mlsite.lab.errors import BootFailed, LabError
from mlsite.lab.hostfs import HostFiles, write_host_files
from mlsite.lab.machine import HostLayout
from mlsite.lab.paths import LabDirs
from mlsite.lab.plan import LabHost, LabPlan
from mlsite.lab.state import LabState, Resource, StateBook, load_state, locked
from mlsite.lab.tools import require_root, require_tools

FENCE_PORT = 7411
BOOT_TIMEOUT_S = 60


@dataclass(frozen=True)
class HostStatus:
    """How one lab host is doing."""

    name: str
    address: str
    running: bool
    pid: int
    link: str
    """"up", "cut" (by `lab cut`) or "down" (powered off)."""
    disks: dict[str, str]
    """Disk path inside the host -> loop device."""


@dataclass(frozen=True)
class LabStatus:
    """How the whole lab is doing."""

    state_dir: Path
    up: bool
    site: str
    network: str
    hosts: tuple[HostStatus, ...]
    partitions: tuple[tuple[str, str], ...]
    proxy_running: bool
    fence_running: bool
    debian: str = ""
    """The hosts' Debian release, e.g. "12 (bookworm)" (empty when no lab is up)."""


def _pid(state: LabState, role: str) -> int:
    res = state.find("process", role)
    return int(res.detail) if res else 0


class Lab:
    """The lab whose state lives in `dirs` (one per machine: names use the `mls-` prefix)."""

    def __init__(self, dirs: LabDirs | None = None) -> None:
        self.dirs = dirs or LabDirs.from_env()
        self._console_from: dict[str, int] = {}
        """Where each host's console log stood when it was last powered on."""

    # -- whole lab -------------------------------------------------------------------------

    def up(self, plan: LabPlan, *, boot_timeout_s: float = BOOT_TIMEOUT_S) -> None:
        """Bring every host of `plan` up and SSH-ready (idempotent: what runs stays)."""
        require_root()
        require_tools()
        with self._book() as book:
            current = book.state.plan
            if current is not None and current != plan and teardown.anything_left(self.dirs):
                raise LabError(
                    f"a different lab (site {current.site!r}) is up in {self.dirs.state}; "
                    "run `mlsite lab down` first"
                )
            net.check_clashes(plan)
            net.check_owner(str(self.dirs.state))
            sshmux.close_masters(_ssh_targets(plan.hosts))  # left by a lab that was not downed
            book.state.plan = plan
            book.save()
            ssh.ensure_key(self.dirs)
            base = rootfs.ensure_base(self.dirs, plan.debian)
            book.record(Resource("link", net.BRIDGE))
            net.ensure_bridge(plan, str(self.dirs.state))
            self._ensure_fence_daemon(book, plan)
            self._ensure_proxy(book, plan)
            booted: list[LabHost] = []
            for host in plan.hosts:
                self._prepare_host(book, plan, host, base)
                if not machine.is_running(_pid(book.state, f"host:{host.name}")):
                    self._power_on(book, host)
                    booted.append(host)
            net.apply_partitions(plan, book.state.partitions)
            book.record(Resource("nft", net.NFT_TABLE))
            self._wait_booted(book, booted, boot_timeout_s)

    def down(self, *, purge: bool = False) -> list[str]:
        """Remove everything the lab created; return what was removed (for the log)."""
        require_root()
        net.check_owner(str(self.dirs.state))
        with self._book() as book:
            if book.state.plan is not None:
                sshmux.close_masters(_ssh_targets(book.state.plan.hosts))
            removed = teardown.teardown(self.dirs, book.state)
            book.state = LabState()
            if purge:
                teardown.purge(self.dirs)
            else:
                book.save()
        return removed

    def status(self) -> LabStatus:
        """The lab's state as recorded and as observed."""
        state = load_state(self.dirs)
        hosts: list[HostStatus] = []
        plan = state.plan
        for host in plan.hosts if plan else ():
            pid = _pid(state, f"host:{host.name}")
            running = machine.is_running(pid)
            link = (
                "cut"
                if host.name in state.cut
                else ("up" if running and net.link_is_up(host) else "down")
            )
            layout = HostLayout(self.dirs, host)
            devices = {
                d.path: state.loops.get(str(layout.disk_image(d.slug)), "") for d in host.disks
            }
            hosts.append(
                HostStatus(
                    host.name, str(host.address), running, pid if running else 0, link, devices
                )
            )
        return LabStatus(
            state_dir=self.dirs.state,
            up=any(h.running for h in hosts),
            site=plan.site if plan else "",
            network=str(plan.network) if plan else "",
            hosts=tuple(hosts),
            partitions=tuple(sorted(state.partitions)),
            proxy_running=procs.is_alive(_pid(state, proxy.ROLE)),
            fence_running=procs.is_alive(_pid(state, "fence-daemon")),
            debian=f"{plan.debian} ({plan.suite})" if plan else "",
        )

    def plan(self) -> LabPlan:
        """The plan of the lab that is up (a LabError when none is)."""
        plan = load_state(self.dirs).plan
        if plan is None:
            raise LabError(f"no lab is up (state dir {self.dirs.state}); run `mlsite lab up`")
        return plan

    # -- drills ---------------------------------------------------------------------------

    def crash(self, name: str) -> None:
        """Hard power-off: the host's link goes down, its addresses vanish, every process dies."""
        require_root()
        with self._book() as book:
            host = self._host(book, name)
            sshmux.close_masters(_ssh_targets([host]))  # its connections die with it
            net.set_link(host, up=False)
            net.flush_addresses(host)
            role = f"host:{host.name}"
            machine.power_off(host, _pid(book.state, role))
            if res := book.state.find("process", role):
                book.forget(res)

    def start(self, name: str, *, boot_timeout_s: float = BOOT_TIMEOUT_S) -> None:
        """Power a host on again (its own layer, files included, is as the crash left it)."""
        require_root()
        with self._book() as book:
            host = self._host(book, name)
            if machine.is_running(_pid(book.state, f"host:{host.name}")):
                return
            plan = self._plan(book)
            self._prepare_host(book, plan, host, rootfs.ensure_base(self.dirs, plan.debian))
            self._power_on(book, host)
            self._wait_booted(book, [host], boot_timeout_s)

    def cut(self, name: str) -> None:
        """Pull the host's cable: its link goes down until `heal`."""
        require_root()
        with self._book() as book:
            host = self._host(book, name)
            book.state.cut.add(host.name)
            book.save()
            net.set_link(host, up=False)

    def partition(self, a: str, b: str) -> None:
        """Stop all traffic between two hosts (each still reaches every other host)."""
        require_root()
        with self._book() as book:
            plan = self._plan(book)
            ha, hb = plan.host(a), plan.host(b)
            if ha == hb:
                raise LabError("a partition needs two different hosts")
            book.state.partitions.add((min(a, b), max(a, b)))
            book.record(Resource("nft", net.NFT_TABLE))
            net.apply_partitions(plan, book.state.partitions)

    def heal(self, name: str | None = None) -> None:
        """Undo `cut` of one host (and its partitions), or every cut and partition."""
        require_root()
        with self._book() as book:
            plan = self._plan(book)
            healed = [plan.host(name)] if name else [plan.host(n) for n in sorted(book.state.cut)]
            for host in healed:
                book.state.cut.discard(host.name)
                if machine.is_running(_pid(book.state, f"host:{host.name}")):
                    net.set_link(host, up=True)
            book.state.partitions = (
                {p for p in book.state.partitions if name not in p} if name else set()
            )
            book.save()
            net.apply_partitions(plan, book.state.partitions)

    # -- helpers --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _book(self) -> Iterator[StateBook]:
        with locked(self.dirs) as book:
            yield book

    def _plan(self, book: StateBook) -> LabPlan:
        if book.state.plan is None:
            raise LabError(f"no lab is up (state dir {self.dirs.state}); run `mlsite lab up`")
        return book.state.plan

    def _host(self, book: StateBook, name: str) -> LabHost:
        return self._plan(book).host(name)

    def _prepare_host(self, book: StateBook, plan: LabPlan, host: LabHost, base: Path) -> None:
        """Network, disks and root of a host: everything but power."""
        book.record(Resource("netns", host.netns))
        book.record(Resource("link", host.veth))
        net.ensure_host_net(plan, host)
        if host.name in book.state.cut:
            net.set_link(host, up=False)
        layout = HostLayout(self.dirs, host)
        for disk in host.disks:
            image = layout.disk_image(disk.slug)
            disks.create_image(image, disk.size_gib)
            book.record(Resource("loop", str(image)))
            book.state.loops[str(image)] = disks.attach(image)
            book.save()
        book.record(Resource("mount", str(layout.root)))
        machine.mount_root(layout, base)

    def _wait_booted(self, book: StateBook, hosts: list[LabHost], timeout_s: float) -> None:
        """Wait until ``hosts`` are SSH-ready. A host that stops while booting leaves its
        console log in the lab's logs directory (kept by `lab down`); it is booted once
        more unless its console shows a lasting cause, which the error then names."""
        retried: set[str] = set()
        while True:
            pids = {h.name: _pid(book.state, f"host:{h.name}") for h in hosts}
            try:
                machine.wait_ssh(hosts, timeout_s, pids)
                return
            except BootFailed as failed:
                host = self._host(book, failed.host)
                layout = HostLayout(self.dirs, host)
                kept = machine.keep_console(
                    layout,
                    self.dirs.logs,
                    len(retried & {host.name}) + 1,
                    self._console_from.get(host.name, 0),
                )
                cause = machine.boot_failure(kept.read_text(errors="replace"))
                if cause is None and host.name not in retried:
                    retried.add(host.name)
                    print(
                        f"lab host {host.name} stopped while booting (console log: {kept}); "
                        "nothing there shows a lasting cause: booting it once more",
                        file=sys.stderr,
                    )
                    machine.power_off(host, pids[host.name])
                    self._power_on(book, host)
                    continue
                why = cause or "it stopped again on the second boot, so the cause is not passing"
                raise LabError(
                    f"lab host {host.name} stopped while booting: {why}. Its console log is "
                    f"{kept} (kept by `mlsite lab down`; `mlsite lab down --purge` removes it)"
                ) from None

    def _power_on(self, book: StateBook, host: LabHost) -> None:
        plan = self._plan(book)
        layout = HostLayout(self.dirs, host)
        devices = {d.path: book.state.loops[str(layout.disk_image(d.slug))] for d in host.disks}
        files = HostFiles(
            plan=plan,
            public_key=ssh.public_key(self.dirs),
            fence_url=f"http://{plan.gateway}:{FENCE_PORT}/",
            fence_token=self.dirs.fence_token.read_text().strip(),
        )
        host_key = write_host_files(layout.root, host, files, devices)
        self._console_from[host.name] = machine.console_size(layout)
        self._update_known_hosts(plan, host, host_key)
        book.record(Resource("cgroup", host.name))
        if old := book.state.find("process", f"host:{host.name}"):
            book.forget(old)  # a machine that stopped (a failed boot): one record per host
        pid = machine.power_on(layout, sorted(devices.values()))
        book.record(Resource("process", f"host:{host.name}", str(pid)))

    def _update_known_hosts(self, plan: LabPlan, host: LabHost, host_key: str) -> None:
        keys: dict[LabHost, str] = {}
        for other in plan.hosts:
            pub = HostLayout(self.dirs, other).upper / "etc/ssh/ssh_host_ed25519_key.pub"
            if pub.exists():
                keys[other] = " ".join(pub.read_text().split()[:2])
        keys[host] = host_key
        ssh.write_known_hosts(self.dirs, keys)

    def _ensure_proxy(self, book: StateBook, plan: LabPlan) -> None:
        if procs.is_alive(_pid(book.state, proxy.ROLE)):
            return
        pid = proxy.start(self.dirs, plan)
        book.record(Resource("process", proxy.ROLE, str(pid)))

    def _ensure_fence_daemon(self, book: StateBook, plan: LabPlan) -> None:
        if not self.dirs.fence_token.exists():
            self.dirs.fence_token.touch(mode=0o600)
            self.dirs.fence_token.write_text(secrets.token_urlsafe(32) + "\n")
        if procs.is_alive(_pid(book.state, "fence-daemon")):
            return
        args = [
            sys.executable,
            "-m",
            "mlsite.lab.fenced",
            "--state-dir",
            str(self.dirs.state),
            "--listen",
            str(plan.gateway),
            "--port",
            str(FENCE_PORT),
        ]
        pid = procs.spawn(args, self.dirs.run / "fence-daemon.log")
        book.record(Resource("process", "fence-daemon", str(pid)))
        proxy.wait_listening(str(plan.gateway), FENCE_PORT, pid, "the lab fence daemon")


def _ssh_targets(hosts: Iterable[LabHost]) -> list[tuple[str, str, int]]:
    """The shared SSH connections the host runner may hold to ``hosts``."""
    return [(h.ssh_user, str(h.address), h.ssh_port) for h in hosts]

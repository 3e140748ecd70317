"""The lab's apt proxy: an apt-cacher-ng of its own, listening on the bridge address."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from mlsite.lab import procs
from mlsite.lab.errors import LabError
from mlsite.lab.hostfs import APT_PROXY_PORT
from mlsite.lab.mirror import debian_mirror
from mlsite.lab.paths import LabDirs
from mlsite.lab.plan import LabPlan

ROLE = "apt-proxy"


def config_dir(dirs: LabDirs) -> Path:
    """apt-cacher-ng's configuration directory for this lab."""
    return dirs.run / "apt-cacher-ng"


def write_config(dirs: LabDirs, plan: LabPlan) -> Path:
    """Write the proxy's configuration: cache in the state dir, Debian backend = this machine's mirror."""
    conf = config_dir(dirs)
    conf.mkdir(parents=True, exist_ok=True)
    dirs.apt_cache.mkdir(parents=True, exist_ok=True)
    logs = dirs.run / "apt-cacher-ng-log"
    logs.mkdir(parents=True, exist_ok=True)
    # The stock Debian backend list is unreachable from here: point it at the configured mirror.
    (conf / "backends_debian").write_text(debian_mirror() + "\n")
    (conf / "acng.conf").write_text(
        "\n".join(
            [
                f"CacheDir: {dirs.apt_cache}",
                f"LogDir: {logs}",
                f"Port: {APT_PROXY_PORT}",
                f"BindAddress: {plan.gateway}",
                f"PidFile: {dirs.run / 'apt-cacher-ng.pid'}",
                f"SocketPath: {dirs.run / 'apt-cacher-ng.socket'}",
                "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian",
                "ExThreshold: 4",
                # Serve a package index fetched in the last 5 minutes from the cache, so
                # fewer upstream re-fetches race: lab hosts refresh their lists at the
                # same moment, and a re-fetch while another client's copy was moved aside
                # failed ("File exists"). This narrows the race without closing it; the
                # hosts' apt retries (hostfs) turn a failed fetch into a short delay.
                "FreshIndexMaxAge: 300",
                "ForeGround: 1",
                "",
            ]
        )
    )
    return conf


def start(dirs: LabDirs, plan: LabPlan) -> int:
    """Start apt-cacher-ng; return its process id once it accepts connections."""
    conf = write_config(dirs, plan)
    pid = procs.spawn(
        ["apt-cacher-ng", "-c", str(conf), "ForeGround=1"], dirs.run / "apt-cacher-ng.out"
    )
    wait_listening(str(plan.gateway), APT_PROXY_PORT, pid, "apt-cacher-ng")
    return pid


def wait_listening(address: str, port: int, pid: int, what: str, timeout_s: float = 10) -> None:
    """Wait until `address:port` accepts connections, failing if `pid` dies first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            if not procs.is_alive(pid):
                raise LabError(
                    f"{what} exited at start; see its log in the lab state dir"
                ) from None
            time.sleep(0.05)
    raise LabError(f"{what} does not listen on {address}:{port} after {timeout_s:.0f} s")

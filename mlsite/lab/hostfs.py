"""What the lab writes into a host's own layer before it boots: identity, SSH, apt, disks, fencing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mlsite.lab.mirror import lab_sources, render_sources
from mlsite.lab.plan import LabHost, LabPlan
from mlsite.lab.ssh import make_host_key
from mlsite.lab.tools import run

APT_PROXY_PORT = 3142
FENCE_AGENT_PATH = "usr/sbin/fence_mlsite_lab"
FENCE_CONF_PATH = "etc/mlsite-lab/fence.conf"


@dataclass(frozen=True)
class HostFiles:
    """Lab-wide inputs to every host's files."""

    plan: LabPlan
    public_key: str
    fence_url: str
    fence_token: str


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _hosts_file(plan: LabPlan, host: LabHost) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        f"127.0.1.1\t{host.name}-loopback",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    lines += [f"{h.address}\t{h.name}" for h in plan.hosts]
    lines.append(f"{plan.gateway}\tlab-gateway")
    return "\n".join(lines) + "\n"


def _ensure_user(root: Path, user: str, public_key: str) -> None:
    if user == "root":
        home = root / "root"
    else:
        if f"\n{user}:" not in "\n" + (root / "etc/passwd").read_text():
            run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", user])
        _write(root, f"etc/sudoers.d/mlsite-lab-{user}", f"{user} ALL=(ALL) NOPASSWD: ALL\n", 0o440)
        home = root / "home" / user
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(public_key + "\n")
    if user != "root":
        ids = run(["chroot", str(root), "id", "-u", user]).stdout.strip()
        gid = run(["chroot", str(root), "id", "-g", user]).stdout.strip()
        run(["chown", "-R", f"{ids}:{gid}", str(ssh_dir)])
    ssh_dir.chmod(0o700)
    keys.chmod(0o600)


def disk_links(host: LabHost, devices: dict[str, str]) -> str:
    """systemd-tmpfiles lines making each disk id a symlink to its bound loop device."""
    return "".join(f"L+ {disk.path} - - - - {devices[disk.path]}\n" for disk in host.disks)


def write_host_files(root: Path, host: LabHost, files: HostFiles, devices: dict[str, str]) -> str:
    """Write the host's files into its (mounted) root; return its public host key."""
    plan = files.plan
    _write(root, "etc/hostname", host.name + "\n")
    _write(root, "etc/hosts", _hosts_file(plan, host))
    if not (root / "etc/machine-id").read_text().strip():
        _write(root, "etc/machine-id", uuid.uuid4().hex + "\n", 0o444)
    host_key = make_host_key(root / "etc/ssh")
    _write(
        root,
        "etc/ssh/sshd_config.d/mlsite-lab.conf",
        f"Port {host.ssh_port}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n",
    )
    _ensure_user(root, host.ssh_user, files.public_key)
    if host.ssh_user != "root":
        _ensure_user(root, "root", files.public_key)
    _write(
        root,
        "etc/apt/apt.conf.d/01mlsite-lab-proxy",
        f'Acquire::http::Proxy "http://{plan.gateway}:{APT_PROXY_PORT}/";\n'
        # apt-cacher-ng can stall or fail one of several hosts asking for the same file at
        # once; a bounded wait and retries turn that into a short delay instead of a hang.
        # Retries are immediate: with apt 2.6's back-off delay, a failed InRelease fetch
        # left apt-get update waiting forever with every method idle.
        'Acquire::http::Timeout "30";\nAcquire::Retries "5";\n'
        'Acquire::Retries::Delay "false";\n'
        # without pipelining: apt's pipelined requests to apt-cacher-ng hung for minutes
        'Acquire::http::Pipeline-Depth "0";\n',
    )
    _write(
        root, "etc/apt/sources.list.d/debian.sources", render_sources(lab_sources(suite=plan.suite))
    )
    _write(root, "etc/tmpfiles.d/mlsite-lab-disks.conf", disk_links(host, devices))
    agent = resources.files("mlsite.lab").joinpath("fence_agent.py").read_text()
    _write(root, FENCE_AGENT_PATH, agent, 0o755)
    _write(
        root,
        FENCE_CONF_PATH,
        f"url={files.fence_url}\ntoken={files.fence_token}\n",
        0o600,
    )
    return host_key

"""The lab's SSH identity: one generated ed25519 key for every host, strict host keys."""

from __future__ import annotations

from pathlib import Path

from mlsite.lab.paths import LabDirs
from mlsite.lab.plan import LabHost
from mlsite.lab.tools import run


def ensure_key(dirs: LabDirs) -> Path:
    """The lab's private key, generated on first use (the public key sits beside it)."""
    dirs.ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not dirs.ssh_key.exists():
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "mlsite-lab",
                "-f",
                str(dirs.ssh_key),
            ]
        )
    return dirs.ssh_key


def public_key(dirs: LabDirs) -> str:
    """The lab's public key line."""
    return dirs.ssh_key.with_suffix(".pub").read_text().strip()


def make_host_key(directory: Path) -> str:
    """Generate a host's ed25519 host key into `directory`; return its public part."""
    key = directory / "ssh_host_ed25519_key"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key)])
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


def write_known_hosts(dirs: LabDirs, entries: dict[LabHost, str]) -> None:
    """Record each host's public host key (`type base64`) for strict checking."""
    lines = []
    for host, key in sorted(entries.items(), key=lambda kv: kv[0].name):
        names = f"{host.address}" if host.ssh_port == 22 else f"[{host.address}]:{host.ssh_port}"
        lines.append(f"{names},{host.name} {key}")
    dirs.known_hosts.write_text("\n".join(lines) + "\n")


def ssh_args(dirs: LabDirs, host: LabHost, *, batch: bool = True) -> list[str]:
    """The `ssh` command line (without the remote command) that logs in to a lab host."""
    args = [
        "ssh",
        "-i",
        str(dirs.ssh_key),
        "-p",
        str(host.ssh_port),
        "-o",
        f"UserKnownHostsFile={dirs.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
    ]
    if batch:
        args += ["-o", "BatchMode=yes"]
    return [*args, f"{host.ssh_user}@{host.address}"]

"""Running the machine's tools: explicit argument lists, one-line errors, and preflight checks."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from mlsite.lab.errors import LabError

TOOL_PACKAGES: dict[str, str] = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "nft": "nftables",
    "losetup": "mount",
    "mount": "mount",
    "umount": "mount",
    "tar": "tar",
    "zstd": "zstd",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "apt-cacher-ng": "apt-cacher-ng",
    "chroot": "coreutils",
}
"""Every tool the lab runs on this machine, and the Debian package that provides it."""


def require_root() -> None:
    """Fail with a clear message unless running as root (namespaces, mounts, loop devices)."""
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root (it creates namespaces, mounts and loop devices); run it with sudo"
        )


def require_tools(names: Sequence[str] = tuple(TOOL_PACKAGES)) -> None:
    """Fail with the Debian packages to install when any of `names` is missing from PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        packages = sorted({TOOL_PACKAGES.get(n, n) for n in missing})
        raise LabError(
            f"missing tool(s) {', '.join(missing)}: install with `apt-get install {' '.join(packages)}`"
        )


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    input_text: str | None = None,
    timeout_s: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a command with an explicit argument list and captured output.

    With `check`, a non-zero exit becomes a LabError naming the command and its stderr.
    """
    try:
        proc = subprocess.run(
            list(args),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        tool = args[0]
        raise LabError(
            f"missing tool {tool}: install with `apt-get install {TOOL_PACKAGES.get(tool, tool)}`"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(args)}` did not finish within {timeout_s} s") from exc
    if check and proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[:400]
        raise LabError(f"`{' '.join(args)}` failed (exit {proc.returncode}): {detail}")
    return proc

"""The lab hosts' root filesystem: debootstrap once, keep it as a zstd tarball, unpack per lab."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from mlsite.lab.mirror import debian_mirror
from mlsite.lab.paths import LabDirs
from mlsite.lab.tools import run

SUITE = "bookworm"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "iputils-ping",
    "python3",
    "sudo",
    "ca-certificates",
    "procps",
)
"""Packages on top of debootstrap's minbase: systemd as init, sshd, python3 for the fence agent."""

RECIPE_VERSION = 1
"""Bump when the build steps change, so every cache rebuilds."""

DEBOOTSTRAP_TIMEOUT_S = 900


def rootfs_key() -> str:
    """Identity of the rootfs recipe (suite, packages, build steps)."""
    recipe = f"{SUITE}|{','.join(PACKAGES)}|{RECIPE_VERSION}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def tarball_path(dirs: LabDirs) -> Path:
    """Where the cached rootfs tarball lives."""
    return dirs.cache / f"rootfs-{SUITE}-{rootfs_key()}.tar.zst"


def _strip_identity(root: Path) -> None:
    """Remove what must differ per host; the lab writes those when it creates a host."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    (root / "etc/hostname").unlink(missing_ok=True)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("")
    for cache in (root / "var/cache/apt/archives").glob("*.deb"):
        cache.unlink()
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)


def build_tarball(dirs: LabDirs) -> Path:
    """The cached rootfs tarball, built with debootstrap from the Debian mirror if missing."""
    tarball = tarball_path(dirs)
    if tarball.exists():
        return tarball
    dirs.cache.mkdir(parents=True, exist_ok=True)
    build = dirs.cache / f"build-{rootfs_key()}"
    shutil.rmtree(build, ignore_errors=True)
    try:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(build),
                debian_mirror(),
            ],
            timeout_s=DEBOOTSTRAP_TIMEOUT_S,
        )
        _strip_identity(build)
        partial = tarball.with_suffix(".partial")
        run(
            [
                "tar",
                "--zstd",
                "--numeric-owner",
                "--xattrs",
                "-C",
                str(build),
                "-cf",
                str(partial),
                ".",
            ]
        )
        partial.rename(tarball)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return tarball


def ensure_base(dirs: LabDirs) -> Path:
    """The unpacked rootfs (the read-only lower layer of every host), unpacked once per lab."""
    base = dirs.base / rootfs_key()
    marker = dirs.base / f"{rootfs_key()}.complete"
    if marker.exists():
        return base
    tarball = build_tarball(dirs)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    run(["tar", "--zstd", "--numeric-owner", "--xattrs", "-xpf", str(tarball), "-C", str(base)])
    marker.write_text(tarball.name + "\n")
    return base

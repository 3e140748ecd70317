"""The lab hosts' root filesystem: debootstrap once, keep it as a zstd tarball, unpack per lab."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from mlsite.lab.errors import LabError
from mlsite.lab.mirror import debian_mirror
from mlsite.lab.paths import LabDirs
from mlsite.lab.plan import DEBIAN_RELEASES, DEFAULT_DEBIAN
from mlsite.lab.tools import run

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


def suite(debian: int = DEFAULT_DEBIAN) -> str:
    """The Debian suite of a major release (LabError for one the lab cannot run)."""
    try:
        return DEBIAN_RELEASES[debian]
    except KeyError:
        known = ", ".join(f"{n} ({s})" for n, s in DEBIAN_RELEASES.items())
        raise LabError(f"the lab runs Debian {known}, not Debian {debian}") from None


def rootfs_key(debian: int = DEFAULT_DEBIAN) -> str:
    """Identity of the rootfs recipe (suite, packages, build steps)."""
    recipe = f"{suite(debian)}|{','.join(PACKAGES)}|{RECIPE_VERSION}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def tarball_path(dirs: LabDirs, debian: int = DEFAULT_DEBIAN) -> Path:
    """Where the cached rootfs tarball lives."""
    return dirs.cache / f"rootfs-{suite(debian)}-{rootfs_key(debian)}.tar.zst"


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


def build_tarball(dirs: LabDirs, debian: int = DEFAULT_DEBIAN) -> Path:
    """The cached rootfs tarball, built with debootstrap from the Debian mirror if missing."""
    tarball = tarball_path(dirs, debian)
    if tarball.exists():
        return tarball
    dirs.cache.mkdir(parents=True, exist_ok=True)
    build = dirs.cache / f"build-{rootfs_key(debian)}"
    shutil.rmtree(build, ignore_errors=True)
    try:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                suite(debian),
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


def ensure_base(dirs: LabDirs, debian: int = DEFAULT_DEBIAN) -> Path:
    """The unpacked rootfs (the read-only lower layer of every host), unpacked once per lab."""
    base = dirs.base / rootfs_key(debian)
    marker = dirs.base / f"{rootfs_key(debian)}.complete"
    if marker.exists():
        return base
    tarball = build_tarball(dirs, debian)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    run(["tar", "--zstd", "--numeric-owner", "--xattrs", "-xpf", str(tarball), "-C", str(base)])
    marker.write_text(tarball.name + "\n")
    return base

"""Custom pyinfra facts: the distribution, GPUs from nvidia-smi, what a block device holds,
accounts and text files in one read each."""

from __future__ import annotations

import csv
import re
import shlex
from dataclasses import dataclass
from typing import Any

from pyinfra.api.facts import FactBase

_PRETTY = {"debian": "Debian", "ubuntu": "Ubuntu"}


class OsRelease(FactBase[dict[str, Any]]):
    """The distribution from os-release, in the shape of pyinfra's ``LinuxDistribution``
    (``name``, ``major``, ``minor``, ``release_meta``).

    pyinfra's fact writes every ``/etc/*-release`` file into a local temporary directory to
    parse it with the ``distro`` library: ~5 ms of local disk work per read, and every
    deploy reads it first. This one parses os-release (the file systemd-era Debian and
    Ubuntu define their release by) in memory."""

    def command(self) -> str:
        # read by the shell (no cat process); the last line may lack its newline
        return (
            "f=/etc/os-release; [ -r $f ] || f=/usr/lib/os-release; "
            'while IFS= read -r l || [ -n "$l" ]; do printf \'%s\\n\' "$l"; done < $f'
        )

    @staticmethod
    def default() -> dict[str, Any]:
        return {"name": None, "major": None, "minor": None, "release_meta": {}}

    def process(self, output: list[str]) -> dict[str, Any]:
        meta: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not key or key.startswith("#"):
                continue
            try:
                words = shlex.split(value)
            except ValueError:  # unbalanced quotes: keep the text as written
                words = [value.strip().strip("\"'")]
            meta[key.upper()] = words[0] if words else ""
        if not meta:
            return self.default()
        version = meta.get("VERSION_ID", "").split(".")
        ident = meta.get("ID", "").lower()
        return {
            "name": _PRETTY.get(ident, meta.get("NAME")),
            "major": int(version[0]) if version[0].isdigit() else None,
            "minor": int(version[1]) if len(version) > 1 and version[1].isdigit() else None,
            "release_meta": meta,
        }


GPU_QUERY = "index,name,uuid,memory.total,driver_version,pci.bus_id,persistence_mode"
"""Fields asked of ``nvidia-smi --query-gpu`` (order matters to the parser)."""


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as nvidia-smi reports it."""

    index: int
    name: str
    uuid: str
    memory_mib: int
    driver_version: str
    pci_bus_id: str
    persistence_mode: bool


def parse_nvidia_smi_csv(lines: list[str]) -> list[GpuInfo]:
    """Parse ``nvidia-smi --query-gpu=GPU_QUERY --format=csv,noheader,nounits`` output.

    A header line (``--format=csv`` without ``noheader``) and unit suffixes (``MiB``) are
    tolerated, so samples recorded either way parse."""
    gpus: list[GpuInfo] = []
    for row in csv.reader(line for line in lines if line.strip()):
        cells = [c.strip() for c in row]
        if len(cells) < 7 or cells[0] == "index":
            continue
        memory = cells[3].removesuffix("MiB").strip()
        gpus.append(
            GpuInfo(
                index=int(cells[0]),
                name=cells[1],
                uuid=cells[2],
                memory_mib=int(memory) if memory.isdigit() else 0,
                driver_version=cells[4],
                pci_bus_id=cells[5],
                persistence_mode=cells[6].lower() == "enabled",
            )
        )
    return gpus


class NvidiaGpus(FactBase[list[GpuInfo]]):
    """GPUs seen by the NVIDIA driver; empty when nvidia-smi is missing or finds none."""

    def command(self) -> str:
        return (
            "command -v nvidia-smi >/dev/null 2>&1 && "
            f"nvidia-smi --query-gpu={GPU_QUERY} --format=csv,noheader,nounits 2>/dev/null || true"
        )

    @staticmethod
    def default() -> list[GpuInfo]:
        return []

    def process(self, output: list[str]) -> list[GpuInfo]:
        return parse_nvidia_smi_csv(output)


@dataclass(frozen=True)
class DiskContents:
    """What a block device holds, from wipefs and sysfs (read-only probes)."""

    path: str
    device: str | None
    """The resolved device node; None when the path does not exist or is not a block device."""
    signatures: tuple[str, ...] = ()
    """Filesystem, RAID, LVM or partition-table signatures (``TYPE@OFFSET``)."""
    partitions: tuple[str, ...] = ()
    """Partitions of the device."""

    @property
    def empty(self) -> bool:
        """No signature and no partition."""
        return not self.signatures and not self.partitions

    @property
    def ceph_osd(self) -> bool:
        """The device carries a BlueStore label: a Ceph OSD lives on it."""
        return any(s.startswith("ceph_bluestore@") for s in self.signatures)


class DiskProbe(FactBase[DiskContents]):
    """What the device at ``path`` holds (``wipefs --no-act``, /sys partitions)."""

    def command(self, path: str) -> str:
        return (
            f'p={path}; d=$(readlink -f "$p"); '
            'if [ ! -b "$d" ]; then echo missing; exit 0; fi; '
            'echo "device $d"; '
            'wipefs --no-act --noheadings --output TYPE,OFFSET "$d" | '
            'while read -r t o; do echo "sig $t@$o"; done; '
            'for s in /sys/class/block/$(basename "$d")/*/partition; do '
            '[ -e "$s" ] && echo "part $(basename $(dirname "$s"))"; done; true'
        )

    def process(self, output: list[str]) -> DiskContents:
        device: str | None = None
        sigs: list[str] = []
        parts: list[str] = []
        for line in output:
            kind, _, value = line.strip().partition(" ")
            if kind == "device":
                device = value
            elif kind == "sig":
                sigs.append(value)
            elif kind == "part":
                parts.append(value)
        return DiskContents(path="", device=device, signatures=tuple(sigs), partitions=tuple(parts))


def _keyed(output: list[str]) -> dict[str, str]:
    """``key value`` lines -> {key: value} (a later line wins)."""
    return {kind: value for kind, _, value in (line.strip().partition(" ") for line in output)}


@dataclass(frozen=True)
class AccountState:
    """A local account as the host has it (``getent``, ``id``, ``stat``)."""

    uid: int | None = None
    """None: no such user."""
    gid: int | None = None
    home: str | None = None
    shell: str | None = None
    groups: tuple[str, ...] = ()
    """Supplementary groups (the primary group left out), sorted."""
    group_gid: int | None = None
    """gid of the group named like the user; None: no such group."""
    home_exists: bool = False
    ssh_dir: str | None = None
    """``owner:group:mode`` of ``~/.ssh``; None when it is missing."""
    authorized_keys: str | None = None
    """``owner:group:mode:sha1`` of ``~/.ssh/authorized_keys``; None when it is missing."""


class Account(FactBase[AccountState]):
    """One user account and its group, home and authorized_keys, read in one command.

    pyinfra's own Users fact lists every account with its last login (a loop of several
    processes per passwd line, ~170 ms on a small host) and is read again for each user
    operation; this reads only the account asked for."""

    def command(self, user: str) -> str:
        # Lines a command prints itself, tagged by printf (a builtin): no subshell per value.
        return (
            f"n={shlex.quote(user)}; "
            'if p=$(getent passwd "$n"); then echo "passwd $p"; '
            "printf 'groups '; id -Gn \"$n\"; "
            # the sixth passwd field, by expansion (no subprocess): name:pw:uid:gid:gecos:home:shell
            "h=${p#*:*:*:*:*:}; h=${h%%:*}; "
            '[ -d "$h" ] && echo "home yes"; '
            '[ -d "$h/.ssh" ] && stat -c \'ssh %U:%G:%a\' "$h/.ssh"; '
            'if [ -f "$h/.ssh/authorized_keys" ]; then '
            "stat -c 'keys %U:%G:%a' \"$h/.ssh/authorized_keys\"; "
            "printf 'keysha1 '; sha1sum < \"$h/.ssh/authorized_keys\"; fi; fi; "
            "printf 'group '; getent group \"$n\" || echo; true"
        )

    @staticmethod
    def default() -> AccountState:
        return AccountState()

    def process(self, output: list[str]) -> AccountState:
        values = _keyed(output)
        state = AccountState()
        if "passwd" in values:
            fields = values["passwd"].split(":")
            names = values.get("groups", "").split()  # id -Gn: the primary group first
            state = AccountState(
                uid=int(fields[2]),
                gid=int(fields[3]),
                home=fields[5],
                shell=fields[6],
                groups=tuple(sorted(set(names[1:]) - set(names[:1]))),
                home_exists="home" in values,
                ssh_dir=values.get("ssh"),
                authorized_keys=(
                    f"{values['keys']}:{values.get('keysha1', '').split(' ')[0]}"
                    if "keys" in values
                    else None
                ),
            )
        if values.get("group"):
            gid = int(values["group"].split(":")[2])
            state = AccountState(**{**state.__dict__, "group_gid": gid})
        return state


@dataclass(frozen=True)
class TextFileState:
    """A file's owner, mode and content digest, and whether its directory exists."""

    parent_exists: bool = False
    exists: bool = False
    """A regular file (or a link to one) is at the path."""
    other: bool = False
    """Something else is at the path: a directory, a dangling link, a device."""
    owner: str | None = None
    """``user:group``."""
    mode: int | None = None
    sha1: str | None = None


class TextFile(FactBase[TextFileState]):
    """What ``mlsite.hosts.operations.text_file`` needs to know about ``path``, in one command
    (pyinfra's ``files.put`` reads the File, Directory and Sha1File facts: three)."""

    def command(self, path: str) -> str:
        # stat and sha1sum print their own lines (printf, a builtin, tags the digest): no
        # subshell per value
        return (
            f"p={shlex.quote(path)}; "
            'd=${p%/*}; [ -d "${d:-/}" ] && echo parent; '
            'if [ -f "$p" ]; then stat -L -c \'stat %U:%G:%a\' "$p"; '
            "printf 'sha1 '; sha1sum < \"$p\"; "
            'elif [ -e "$p" ] || [ -L "$p" ]; then echo other; fi; true'
        )

    @staticmethod
    def default() -> TextFileState:
        return TextFileState()

    def process(self, output: list[str]) -> TextFileState:
        values = _keyed(output)
        owner, mode = None, None
        if "stat" in values:
            user, group, octal = values["stat"].split(":")
            owner, mode = f"{user}:{group}", int(octal, 8)
        return TextFileState(
            parent_exists="parent" in values,
            exists="stat" in values,
            other="other" in values,
            owner=owner,
            mode=mode,
            sha1=values["sha1"].split(" ")[0] if "sha1" in values else None,
        )


@dataclass(frozen=True)
class UnitState:
    """Whether a systemd unit is active and whether it starts at boot."""

    running: bool = False
    """SubState running, waiting, exited, listening or mounted (as pyinfra's SystemdStatus)."""
    enabled: bool = False
    """UnitFileState enabled or static (as pyinfra's SystemdEnabled)."""


class Unit(FactBase[UnitState]):
    """What ``mlsite.hosts.operations.service`` needs to know about a systemd unit, from one
    ``systemctl show`` (pyinfra's ``systemd.service`` reads SystemdStatus and
    SystemdEnabled: two, ~8 ms of host CPU each)."""

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "systemctl"

    def command(self, unit: str) -> str:
        return (
            "systemctl show --all --property Id --property SubState --property UnitFileState "
            + shlex.quote(unit)
        )

    @staticmethod
    def default() -> UnitState:
        return UnitState()

    def process(self, output: list[str]) -> UnitState:
        values = dict(line.strip().split("=", 1) for line in output if "=" in line)
        return UnitState(
            running=values.get("SubState")
            in ("running", "waiting", "exited", "listening", "mounted"),
            enabled=values.get("UnitFileState") in ("enabled", "static"),
        )


# --- Small reads without a process -------------------------------------------------------
#
# pyinfra's facts for these start a program each (uname, readlink | sed, cat,
# date and stat, dpkg -l of every package): ~2 ms of host CPU per process on a small host,
# paid by every host on every run. These read the same answers with shell built-ins, or
# with one program asked only what the operation needs. (Not sysctl values: dash reads a
# file a byte at a time, and /proc/sys answers only the first read of a number.)


class HostName(FactBase[str]):
    """The kernel's host name, as ``uname -n`` prints it (pyinfra's ``Hostname``), read
    from /proc by the shell."""

    def command(self) -> str:
        return "read -r h < /proc/sys/kernel/hostname && printf '%s\\n' \"$h\" || uname -n"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class TimeZone(FactBase[str]):
    """The zone /etc/localtime links to, as pyinfra's ``Timezone`` reports it (the path
    after ``/zoneinfo/``; the whole path when it is not a zoneinfo link)."""

    def command(self) -> str:
        return "l=$(readlink -f /etc/localtime); printf '%s\\n' \"${l##*/zoneinfo/}\""

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class GroupId(FactBase[int | None]):
    """The gid of a group (None: no such group)."""

    def command(self, group: str) -> str:
        return f"getent group {shlex.quote(group)} || true"

    @staticmethod
    def default() -> None:
        return None

    def process(self, output: list[str]) -> int | None:
        fields = output[0].split(":") if output else []
        return int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else None


class GroupMembers(FactBase[list[str]]):
    """The members of a group (its supplementary members; [] when there is no group)."""

    def command(self, group: str) -> str:
        return f"getent group {shlex.quote(group)} || true"

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        fields = output[0].split(":") if output else []
        return [m for m in fields[3].split(",") if m] if len(fields) > 3 else []


class AptListsFresh(FactBase[bool]):
    """Whether apt's package lists were refreshed within ``seconds`` (the stamp pyinfra's
    ``apt.update`` touches, and Debian's periodic updates too), from one ``find``
    (pyinfra reads the stamp with ``stat`` and the host's clock with ``date``)."""

    def command(self, stamp: str, seconds: int) -> str:
        return (
            f"find {shlex.quote(stamp)} -maxdepth 0 -newermt '-{int(seconds)} seconds' "
            "2>/dev/null; true"
        )

    @staticmethod
    def default() -> bool:
        return False

    def process(self, output: list[str]) -> bool:
        return any(line.strip() for line in output)


PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?")
"""A Debian package name, optionally with an architecture (``name:arch``)."""


class InstalledPackages(FactBase[frozenset[str]]):
    """Which of ``packages`` are installed (dpkg's ``ii``/``hi`` states, as pyinfra's
    ``DebPackages`` counts them), asking dpkg-query about these packages only (pyinfra's
    fact lists every installed package: ~20 KB through SSH on a minimal host)."""

    def command(self, packages: tuple[str, ...]) -> str:
        names = " ".join(shlex.quote(p) for p in packages)
        return (
            "dpkg-query -W -f='${db:Status-Abbrev}${binary:Package} ${Package}\\n' -- "
            f"{names} 2>/dev/null; true"
        )

    @staticmethod
    def default() -> frozenset[str]:
        return frozenset()

    def process(self, output: list[str]) -> frozenset[str]:
        installed: set[str] = set()
        for line in output:
            status, names = line[:3], line[3:].split()
            if len(status) == 3 and status[0] in "ih" and status[1] == "i" and status[2] == " ":
                installed.update(names)
        return frozenset(installed)

"""mlsite's own pyinfra operations, where the built-in ones cost too much per run."""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Generator
from io import StringIO

from pyinfra.api.command import FileUploadCommand
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.apt import noninteractive_apt
from pyinfra.facts.server import Which

from mlsite.hosts.facts import (
    PACKAGE_NAME,
    Account,
    AptListsFresh,
    GroupId,
    HostName,
    InstalledPackages,
    TextFile,
    TimeZone,
    Unit,
)

APT_STAMP = "/var/lib/apt/periodic/update-success-stamp"
"""Touched after a successful refresh (by pyinfra's apt.update and by these operations)."""


@operation()
def account(
    user: str,
    uid: int,
    groups: tuple[str, ...] = (),
    home: str | None = None,
    shell: str = "/bin/bash",
    ssh_keys: tuple[str, ...] | None = None,
) -> Generator[str, None, None]:
    """A user with its own group (gid = uid), exactly ``groups`` as supplementary groups,
    an existing home and, when ``ssh_keys`` is given, exactly those authorized keys.

    The same end state as pyinfra's ``server.group`` + ``server.user`` for one account, from
    one fact read (see ``mlsite.hosts.facts.Account``). ``ssh_keys=None`` leaves
    authorized_keys alone; ``()`` empties it."""
    name = user
    home = home or f"/home/{name}"
    q = shlex.quote
    have = host.get_fact(Account, user=name)

    if have.group_gid is None:
        yield f"groupadd --gid {uid} {q(name)}"
    elif have.group_gid != uid:
        yield f"groupmod --gid {uid} {q(name)}"

    wanted_groups = ",".join(sorted(groups))
    if have.uid is None:
        yield (
            f"useradd --uid {uid} --gid {q(name)} --home-dir {q(home)} --create-home "
            f"--shell {q(shell)}"
            + (f" --groups {q(wanted_groups)}" if groups else "")
            + f" {q(name)}"
        )
    else:
        changes: list[str] = []
        if have.uid != uid:
            changes += ["--uid", str(uid)]
        if have.gid != uid:
            changes += ["--gid", q(name)]
        if have.home != home:
            changes += ["--home", q(home)]
        if have.shell != shell:
            changes += ["--shell", q(shell)]
        if have.groups != tuple(sorted(groups)):
            changes += ["--groups", q(wanted_groups)]
        if changes:
            yield f"usermod {' '.join(changes)} {q(name)}"
        if not have.home_exists:
            yield (
                f"install -d -m 0700 -o {q(name)} -g {q(name)} {q(home)} && "
                f"cp -rT /etc/skel {q(home)} && chown -R {q(name)}:{q(name)} {q(home)}"
            )

    if ssh_keys is not None:
        owner = f"{name}:{name}"
        ssh_dir = f"{home}/.ssh"
        if have.ssh_dir != f"{owner}:700":
            yield f"install -d -m 0700 -o {q(name)} -g {q(name)} {q(ssh_dir)}"
        content = "".join(f"{key}\n" for key in ssh_keys)
        digest = hashlib.sha1(content.encode()).hexdigest()
        if have.authorized_keys != f"{owner}:600:{digest}":
            target = q(f"{ssh_dir}/authorized_keys")
            yield (
                f"printf %s {q(content)} > {target} && chown {q(owner)} {target} && "
                f"chmod 0600 {target}"
            )


@operation()
def text_file(
    path: str,
    content: str,
    mode: str = "644",
    user: str = "root",
    group: str = "root",
) -> Generator[str | FileUploadCommand, None, None]:
    """``content`` at ``path``, owned by ``user:group`` with ``mode`` (octal text); the
    directory is created when missing. Nothing runs when all of that already holds.

    The same end state as ``files.put(src=StringIO(content), create_remote_dir=True)``
    from one fact read instead of three."""
    q = shlex.quote
    have = host.get_fact(TextFile, path=path)
    parent = posixpath.dirname(path)
    if parent and not have.parent_exists:
        yield f"mkdir -p {q(parent)} && chown {q(user)}:{q(group)} {q(parent)}"
    digest = hashlib.sha1(content.encode()).hexdigest()
    wanted_mode = int(mode, 8)
    if have.sha1 != digest:
        yield FileUploadCommand(
            StringIO(content), path, remote_temp_filename=host.get_temp_filename(path)
        )
        yield f"chown {q(user)}:{q(group)} {q(path)}"
        yield f"chmod {mode} {q(path)}"
        return
    if have.owner != f"{user}:{group}":
        yield f"chown {q(user)}:{q(group)} {q(path)}"
    if have.mode != wanted_mode:
        yield f"chmod {mode} {q(path)}"


_UNIT_SUFFIXES = (
    ".service",
    ".socket",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
)


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    enabled: bool | None = None,
    daemon_reload: bool = False,
) -> Generator[str, None, None]:
    """A systemd unit running or stopped (``running`` None: left as it is), restarted when
    ``restarted`` and already running, enabled or disabled at boot (``enabled`` None: left
    as it is), after a daemon reload when ``daemon_reload``.

    The same commands as pyinfra's ``systemd.service`` for these arguments, from one fact
    read instead of two (see ``mlsite.hosts.facts.Unit``)."""
    unit = service if service.endswith(_UNIT_SUFFIXES) else f"{service}.service"
    q = shlex.quote(unit)
    if daemon_reload:
        yield "systemctl daemon-reload"
    have = host.get_fact(Unit, unit=unit)
    if running is False:
        if have.running:
            yield f"systemctl stop {q}"
        else:
            host.noop(f"service {unit} is stopped")
    if running is True:
        if not have.running:
            yield f"systemctl start {q}"
        else:
            host.noop(f"service {unit} is running")
    if restarted and have.running:
        yield f"systemctl restart {q}"
    if enabled is True and not have.enabled:
        yield f"systemctl enable {q}"
    elif enabled is False and have.enabled:
        yield f"systemctl disable {q}"


@operation()
def apt_update(cache_time: int = 86400) -> Generator[str, None, None]:
    """Refresh apt's package lists unless they were refreshed within ``cache_time``
    seconds; the same commands as pyinfra's ``apt.update(cache_time=...)``, read with one
    process (``mlsite.hosts.facts.AptListsFresh``) instead of two facts."""
    if host.get_fact(AptListsFresh, stamp=APT_STAMP, seconds=cache_time):
        host.noop("apt is already up to date")
        return
    yield "apt-get update"
    yield f"touch {APT_STAMP}"


@operation()
def packages(packages: list[str]) -> Generator[str, None, None]:
    """Debian packages installed (those already installed are left as they are); the same
    command as pyinfra's ``apt.packages`` for plain names, from a dpkg-query of just these
    packages (``mlsite.hosts.facts.InstalledPackages``) instead of ``dpkg -l`` of all."""
    bad = [p for p in packages if not PACKAGE_NAME.fullmatch(p)]
    if bad:
        raise ValueError(
            f"packages: {bad} are not plain Debian package names (a version or a path "
            "needs pyinfra's apt.packages)"
        )
    have = host.get_fact(InstalledPackages, packages=tuple(packages))
    missing = [p for p in packages if p not in have]
    if missing:
        yield f"{noninteractive_apt('install')} {' '.join(missing)}"
    else:
        host.noop(f"packages {', '.join(packages)} are installed")


@operation()
def hostname(hostname: str) -> Generator[str | FileUploadCommand, None, None]:
    """The host's name, set with ``hostnamectl`` where it exists (else ``hostname`` and
    /etc/hostname); the same commands as pyinfra's ``server.hostname`` on Linux, with the
    current name read by the shell (``mlsite.hosts.facts.HostName``)."""
    q = shlex.quote
    current = host.get_fact(HostName)
    if host.get_fact(Which, command="hostnamectl"):
        if current != hostname:
            yield f"hostnamectl set-hostname {q(hostname)}"
        else:
            host.noop("hostname is set")
        return
    if current != hostname:
        yield f"hostname {q(hostname)}"
    else:
        host.noop("hostname is set")
    yield from text_file._inner(path="/etc/hostname", content=f"{hostname}\n")


@operation()
def timezone(timezone: str) -> Generator[str, None, None]:
    """The host's time zone, set with ``timedatectl`` where it exists (else by linking
    /etc/localtime and writing /etc/timezone); the same commands as pyinfra's
    ``server.timezone``, the current zone read with one process (``mlsite.hosts.facts.TimeZone``)."""
    q = shlex.quote
    if host.get_fact(TimeZone) == timezone:
        host.noop("timezone is set")
        return
    if host.get_fact(Which, command="timedatectl"):
        yield f"timedatectl set-timezone {q(timezone)}"
    else:
        yield f"ln -sf {q('/usr/share/zoneinfo/' + timezone)} /etc/localtime"
        yield f"echo {q(timezone)} > /etc/timezone"


@operation()
def group(group: str, gid: int) -> Generator[str, None, None]:
    """A group with exactly ``gid``: created when missing, its gid corrected when it
    differs (pyinfra's ``server.group`` leaves an existing group's gid as it is, and reads
    all of /etc/group and the kernel name to decide)."""
    q = shlex.quote
    have = host.get_fact(GroupId, group=group)
    if have is None:
        yield f"groupadd --gid {gid} {q(group)}"
    elif have != gid:
        yield f"groupmod --gid {gid} {q(group)}"
    else:
        host.noop(f"group {group} has gid {gid}")

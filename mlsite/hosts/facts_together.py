"""Reading many of one fact in one go.

A role reads the same fact for several arguments (five TextFiles and two Accounts in
base): alone, each costs its own stat, sha1sum, getent and id processes on the host. A
fact batch (``mlsite.hosts.prefetch``) asks a combinable fact's commands together instead: one
snippet runs each program once for all the arguments, and ``split`` rebuilds, for every
argument, exactly the lines its own command would have printed, so the fact's
``process`` parses what it always parses. An argument whose answer the snippet could not
rebuild is left out and read alone.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Any, Protocol

from pyinfra.api.facts import FactBase

from mlsite.hosts.facts import Account, TextFile

_NAME = re.compile(r"[a-z_][a-z0-9_.-]*\$?")
"""A user name the combined Account snippet may word-split (useradd's own rule)."""


def _argument_of(fact: type[FactBase[Any]], raw: str, prefix: str, end: str) -> str | None:
    """The argument ``raw`` was made for, when ``raw`` is exactly ``fact``'s command for it
    (the quoted argument sits between ``prefix`` and ``end``)."""
    if not raw.startswith(prefix) or end not in raw:
        return None
    try:
        words = shlex.split(raw[len(prefix) : raw.index(end)])
    except ValueError:
        return None
    if len(words) != 1:
        return None
    command: Any = fact().command  # the subclass's signature, checked by the comparison
    return words[0] if command(words[0]) == raw else None


class Combinable(Protocol):
    """A fact whose commands for several arguments can run as one snippet."""

    @classmethod
    def argument(cls, raw: str) -> str | None:
        """The argument of ``raw`` when it is this fact's command (None: it is not, or the
        argument cannot be combined)."""

    @classmethod
    def together(cls, args: Sequence[str]) -> str:
        """One shell snippet reading the fact for every argument."""

    @classmethod
    def split(cls, args: Sequence[str], lines: list[str]) -> list[list[str] | None]:
        """Each argument's output lines as its own command prints them (None: unknown)."""


class TextFiles:
    """``TextFile`` for several paths: one ``stat`` and one ``sha1sum`` for all."""

    @classmethod
    def argument(cls, raw: str) -> str | None:
        path = _argument_of(TextFile, raw, "p=", "; d=")
        # stat and sha1sum name files in their output; these characters would be escaped
        return path if path is not None and not any(c in path for c in "\n\\") else None

    @classmethod
    def together(cls, args: Sequence[str]) -> str:
        lines = ["set --"]
        for i, path in enumerate(args):
            lines.append(
                f"p={shlex.quote(path)}; "
                f'd=${{p%/*}}; [ -d "${{d:-/}}" ] && echo "{i} parent"; '
                'if [ -f "$p" ]; then set -- "$@" "$p"; '
                f'elif [ -e "$p" ] || [ -L "$p" ]; then echo "{i} other"; fi'
            )
        lines.append(
            "if [ $# -gt 0 ]; then stat -L -c 'stat %U:%G:%a %n' -- \"$@\"; "
            'sha1sum -- "$@"; fi; true'
        )
        return "\n".join(lines)

    @classmethod
    def split(cls, args: Sequence[str], lines: list[str]) -> list[list[str] | None]:
        index = {path: i for i, path in enumerate(args)}
        flags: dict[int, set[str]] = {i: set() for i in range(len(args))}
        stats: dict[int, str] = {}
        sums: dict[int, str] = {}
        for line in lines:
            head, _, rest = line.partition(" ")
            if head.isdigit() and rest in ("parent", "other") and int(head) in flags:
                flags[int(head)].add(rest)
            elif head == "stat":
                owner, _, name = rest.partition(" ")
                if name in index:
                    stats[index[name]] = owner
            elif len(head) == 40 and rest.startswith(" ") and rest[1:] in index:
                sums[index[rest[1:]]] = head
        answers: list[list[str] | None] = []
        for i in range(len(args)):
            out = ["parent"] if "parent" in flags[i] else []
            if "other" in flags[i]:
                answers.append([*out, "other"])
            elif (i in stats) != (i in sums):
                answers.append(None)  # the file changed between the test and the read
            elif i in stats:
                answers.append([*out, f"stat {stats[i]}", f"sha1 {sums[i]}  -"])
            else:
                answers.append(out)
        return answers


class Accounts:
    """``Account`` for several users: one getent, id, stat and sha1sum for all."""

    @classmethod
    def argument(cls, raw: str) -> str | None:
        user = _argument_of(Account, raw, "n=", "; if p=")
        return user if user is not None and _NAME.fullmatch(user) else None

    @classmethod
    def together(cls, args: Sequence[str]) -> str:
        users = " ".join(shlex.quote(u) for u in args)
        return (
            f"getent passwd {users} | {{ set --; u=; "
            'while IFS= read -r l; do n=${l%%:*}; echo "passwd $l"; u="$u $n"; '
            "h=${l#*:*:*:*:*:}; h=${h%%:*}; "
            '[ -d "$h" ] && echo "home $n"; '
            '[ -d "$h/.ssh" ] && set -- "$@" "$h/.ssh"; '
            '[ -f "$h/.ssh/authorized_keys" ] && set -- "$@" "$h/.ssh/authorized_keys"; '
            "done; "
            'echo "@id"; [ -n "$u" ] && id -Gn $u; '
            'echo "@stat"; [ $# -gt 0 ] && stat -c \'%U:%G:%a %n\' -- "$@"; '
            'echo "@sha1"; [ $# -gt 0 ] && sha1sum -- "$@" 2>/dev/null; true; }; '
            f'echo "@group"; getent group {users}; true'
        )

    @classmethod
    def split(cls, args: Sequence[str], lines: list[str]) -> list[list[str] | None]:
        section = "passwd"
        found: dict[str, str] = {}
        order: list[str] = []
        homes: set[str] = set()
        ids: list[str] = []
        stats: dict[str, str] = {}
        sums: dict[str, str] = {}
        groups: dict[str, str] = {}
        for line in lines:
            if line in ("@id", "@stat", "@sha1", "@group"):
                section = line[1:]
            elif section == "passwd" and line.startswith("passwd "):
                entry = line[len("passwd ") :]
                name = entry.split(":", 1)[0]
                found[name] = entry
                order.append(name)
            elif section == "passwd" and line.startswith("home "):
                homes.add(line[len("home ") :])
            elif section == "id":
                ids.append(line)
            elif section == "stat":
                owner, _, name = line.partition(" ")
                stats[name] = owner
            elif section == "sha1":
                digest, _, name = line.partition("  ")
                sums[name] = digest
            elif section == "group" and ":" in line:
                groups[line.split(":", 1)[0]] = line
        asked = set(args)
        if (
            section != "group"
            or len(ids) != len(order)
            or not asked.issuperset(found)
            or not asked.issuperset(groups)
        ):
            # cut short, id disagreeing with getent, or a name service answering for a
            # name other than the one asked: each account is then read alone
            return [None] * len(args)
        id_of = dict(zip(order, ids, strict=True))
        answers: list[list[str] | None] = []
        for user in args:
            out: list[str] = []
            record = found.get(user)
            if record is not None:
                home = record.split(":")[5] if record.count(":") >= 6 else ""
                out += [f"passwd {record}", f"groups {id_of[user]}"]
                if user in homes:
                    out.append("home yes")
                if f"{home}/.ssh" in stats:
                    out.append(f"ssh {stats[f'{home}/.ssh']}")
                keys = f"{home}/.ssh/authorized_keys"
                if keys in stats:
                    if keys not in sums:
                        answers.append(None)
                        continue
                    out += [f"keys {stats[keys]}", f"keysha1 {sums[keys]}  -"]
            out.append(f"group {groups.get(user, '')}")
            answers.append(out)
        return answers


COMBINABLE: tuple[type[Combinable], ...] = (TextFiles, Accounts)
"""Facts a batch reads together when it asks for two or more of them."""

"""Inputs compared by identity: a list item is matched by its key (an OSD by host and disk,
a pool by name), never by position, so an item removed from the middle of a list is one
change and moves no other.

Each change carries two paths: ``path`` names items by key for people
(``params.pools[db]``); ``at`` is the engine's property path, by position in the list the
change is seen in (``params.pools[1]``), for a provider's detailed diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

SECRET_MARK = re.compile(r"^\[secret (?P<key>[0-9a-f]{8}):(?P<digest>[0-9a-f]{24})\]$")
"""A secret as a plan made with a one-off key shows it (``mlsite.plan.tree.secret_mark``)."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FieldChange:
    """One changed input, by dotted path; values as plans show them (secrets masked)."""

    path: str
    old: Any
    new: Any
    item: Literal["added", "removed"] | None = None
    """Set when a whole keyed list item or mapping entry appears or goes (``path`` names it:
    ``params.pools[db]``, ``params.hosts.akiba-6``); ``old``/``new`` then hold the item."""
    at: str = ""
    """The engine's property path of the change: positions in lists (the old list's for
    what goes, the new list's otherwise), quoted keys where a key is not a plain name."""


def item_key(value: Any) -> str | None:
    """The identity of a list item: ``host:device`` of an OSD, else its ``name`` or ``id``."""
    if not isinstance(value, dict):
        return None
    if "host" in value and "device" in value:
        return f"{value['host']}:{value['device']}"
    for key in ("name", "id"):
        if isinstance(value.get(key), str | int) and not isinstance(value.get(key), bool):
            return str(value[key])
    return None


def keys_of(items: list[Any]) -> list[str] | None:
    """The items' identities when every item has one and they are unique (else None: such
    a list is compared by position)."""
    keys = [item_key(v) for v in items]
    if any(k is None for k in keys) or len(set(keys)) != len(keys):
        return None
    return [str(k) for k in keys]


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _engine_key(at: str, key: str) -> str:
    """A mapping entry in a Pulumi property path (``a.b``, or ``a["/dev/x"]``)."""
    if _NAME.match(key):
        return _child(at, key)
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{at}["{quoted}"]'


def _entries(value: Any, path: str, at: str) -> dict[str, tuple[str, Any]]:
    """Children of ``value``: display path -> (engine path, child)."""
    if isinstance(value, dict):
        return {_child(path, str(k)): (_engine_key(at, str(k)), v) for k, v in value.items()}
    if isinstance(value, list):
        keys = keys_of(value) or [str(i) for i in range(len(value))]
        return {
            f"{path}[{k}]": (f"{at}[{i}]", v)
            for i, (k, v) in enumerate(zip(keys, value, strict=True))
        }
    return {}


def entries(value: Any, path: str = "") -> dict[str, Any]:
    """The children of ``value`` by path: mapping entries as ``path.key``, list items as
    ``path[key]`` when they have identities (``item_key``), else ``path[index]``."""
    return {p: v for p, (_, v) in _entries(value, path, path).items()}


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves of ``value`` by path (empty mappings and lists are leaves); list items by
    identity where they have one, so an item removed from the middle moves no other."""
    return {p: v for p, (_, v) in _leaves(value, path, path).items()}


def _leaves(value: Any, path: str, at: str) -> dict[str, tuple[str, Any]]:
    if isinstance(value, dict | list) and value:
        out: dict[str, tuple[str, Any]] = {}
        for child, (child_at, v) in _entries(value, path, at).items():
            out.update(_leaves(v, child, child_at))
        return out
    return {path: (at, value)}


def natural(path: str) -> list[Any]:
    """Sort key of a path: numbers by value (``osds[9]`` before ``osds[29]``)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def field_changes(old: Any, new: Any, path: str = "") -> tuple[FieldChange, ...]:
    """What changed between two inputs: a whole entry or keyed item that appears or goes is
    one change (``item``); inside entries on both sides, each changed leaf."""
    out: list[FieldChange] = []
    _walk(old, new, path, path, path, out)
    return tuple(sorted(out, key=lambda f: natural(f.path)))


MASK = "[secret]"
"""A secret as a plan made without a key shows it."""


def _incomparable_secrets(old: Any, new: Any) -> bool:
    """Two secrets that cannot be compared: marked with different keys, or one of them
    masked without a key (plans made apart, or by an mlsite without keyed digests). Whether
    they differ is unknown, so it is not shown as a change."""
    a = SECRET_MARK.match(old) if isinstance(old, str) else None
    b = SECRET_MARK.match(new) if isinstance(new, str) else None
    if a is not None and b is not None:
        return a["key"] != b["key"]
    return (a is not None or old == MASK) and (b is not None or new == MASK)


def _walk(old: Any, new: Any, path: str, at_old: str, at_new: str, out: list[FieldChange]) -> None:
    same_kind = (isinstance(old, dict) and isinstance(new, dict)) or (
        isinstance(old, list)
        and isinstance(new, list)
        and old
        and new
        and (keys_of(old) is not None) == (keys_of(new) is not None)
    )
    if not same_kind or not (old and new):
        if old != new and not _incomparable_secrets(old, new):
            out.append(FieldChange(path, old, new, at=at_new))
        return
    a, b = _entries(old, path, at_old), _entries(new, path, at_new)
    keyed = isinstance(old, dict) or keys_of(old) is not None
    for child in a.keys() | b.keys():
        if child not in b:
            child_at, v = a[child]
            if keyed:
                out.append(FieldChange(child, v, None, "removed", at=child_at))
            else:
                out.extend(
                    FieldChange(p, x, None, at=q)
                    for p, (q, x) in _leaves(v, child, child_at).items()
                )
        elif child not in a:
            child_at, v = b[child]
            if keyed:
                out.append(FieldChange(child, None, v, "added", at=child_at))
            else:
                out.extend(
                    FieldChange(p, None, x, at=q)
                    for p, (q, x) in _leaves(v, child, child_at).items()
                )
        elif a[child][1] != b[child][1]:
            _walk(a[child][1], b[child][1], child, a[child][0], b[child][0], out)

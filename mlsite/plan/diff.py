"""Compare two plans and write the result as Markdown for a pull-request comment."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from mlsite.plan.losses import held, losses
from mlsite.plan.tree import FORMAT, MASK, SECRET_MARK

Kind = Literal["add", "update", "replace", "delete"]

REPLACE_KEYS: dict[str, tuple[str, ...]] = {
    "pulumi-python:dynamic/hosts:HostDeploy": ("role",),
}
"""Inputs whose change replaces a resource of that type (as its provider's diff says)."""

EXIT_OK = 0
EXIT_DESTRUCTIVE = 3
MAX_FIELDS = 15
MAX_KEYS = 8
"""Keys named on one line of items added or removed together (the rest are counted)."""


class PlanFormatError(ValueError):
    """A file that is not a plan this version understands."""


@dataclass(frozen=True)
class FieldChange:
    """One changed input, by dotted path; values as plans show them (secrets masked)."""

    path: str
    old: Any
    new: Any
    item: Literal["added", "removed"] | None = None
    """Set when a whole keyed list item or mapping entry appears or goes (``path`` names it:
    ``params.pools[db]``, ``params.hosts.akiba-6``); ``old``/``new`` then hold the item."""


@dataclass(frozen=True)
class Change:
    """What happens to one resource."""

    kind: Kind
    urn: str
    type: str
    name: str
    protect: bool
    data_bearing: bool
    fields: tuple[FieldChange, ...] = ()
    renamed_from: str | None = None
    """The URN the resource had in the base plan, when it is found there by an alias (a
    renamed resource keeps its identity: no delete, no add)."""
    losses: tuple[str, ...] = ()
    """Data an update puts at risk inside the resource (``mlsite.plan.losses``)."""

    @property
    def destructive(self) -> bool:
        """A delete or replace of a protected or data-bearing resource, or an update that
        loses data inside one."""
        gone = self.kind in ("replace", "delete") and (self.protect or self.data_bearing)
        return gone or bool(self.losses)


@dataclass(frozen=True)
class PlanDiff:
    """Every change between two plans."""

    stack: str
    changes: tuple[Change, ...]
    unchanged: int

    def of(self, kind: Kind) -> list[Change]:
        """Changes of one kind, in URN order."""
        return [c for c in self.changes if c.kind == kind]

    @property
    def destructive(self) -> list[Change]:
        """The changes to flag before anything else."""
        return [c for c in self.changes if c.destructive]

    @property
    def exit_code(self) -> int:
        """0: nothing destructive planned; 3: a protected or data-bearing resource goes."""
        return EXIT_DESTRUCTIVE if self.destructive else EXIT_OK


def check_format(doc: Any, what: str) -> dict[str, Any]:
    """``doc`` if it is a plan of this format, else ``PlanFormatError``."""
    if not isinstance(doc, dict) or "resources" not in doc:
        raise PlanFormatError(f"{what} is not an mlsite plan (write one with `mlsite plan --json`)")
    if doc.get("format") != FORMAT:
        raise PlanFormatError(
            f"{what} is a plan of format {doc.get('format')!r}; this mlsite reads format {FORMAT}"
            " (re-run `mlsite plan` with one version)"
        )
    return doc


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


def _keys(items: list[Any]) -> list[str] | None:
    """The items' identities when every item has one and they are unique (else None: such
    a list is compared by position)."""
    keys = [item_key(v) for v in items]
    if any(k is None for k in keys) or len(set(keys)) != len(keys):
        return None
    return [str(k) for k in keys]


def entries(value: Any, path: str = "") -> dict[str, Any]:
    """The children of ``value`` by path: mapping entries as ``path.key``, list items as
    ``path[key]`` when they have identities (``item_key``), else ``path[index]``."""
    if isinstance(value, dict):
        return {f"{path}.{k}" if path else str(k): v for k, v in value.items()}
    if isinstance(value, list):
        keys = _keys(value) or [str(i) for i in range(len(value))]
        return {f"{path}[{k}]": v for k, v in zip(keys, value, strict=True)}
    return {}


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves of ``value`` by path (empty mappings and lists are leaves); list items by
    identity where they have one, so an item removed from the middle moves no other."""
    if isinstance(value, dict | list) and value:
        out: dict[str, Any] = {}
        for child, v in entries(value, path).items():
            out.update(flatten(v, child))
        return out
    return {path: value}


def natural(path: str) -> list[Any]:
    """Sort key of a path: numbers by value (``osds[9]`` before ``osds[29]``)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def field_changes(old: Any, new: Any, path: str = "") -> tuple[FieldChange, ...]:
    """What changed between two inputs: a whole entry or keyed item that appears or goes is
    one change (``item``); inside entries on both sides, each changed leaf."""
    out: list[FieldChange] = []
    _walk(old, new, path, out)
    return tuple(sorted(out, key=lambda f: natural(f.path)))


def _walk(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    same_kind = (isinstance(old, dict) and isinstance(new, dict)) or (
        isinstance(old, list)
        and isinstance(new, list)
        and old
        and new
        and (_keys(old) is not None) == (_keys(new) is not None)
    )
    if not same_kind or not (old and new):
        if old != new and not _incomparable_secrets(old, new):
            out.append(FieldChange(path, old, new))
        return
    a, b = entries(old, path), entries(new, path)
    keyed = isinstance(old, dict) or _keys(old) is not None
    for child in a.keys() | b.keys():
        if child not in b:
            if keyed:
                out.append(FieldChange(child, a[child], None, "removed"))
            else:
                out.extend(FieldChange(p, v, None) for p, v in flatten(a[child], child).items())
        elif child not in a:
            if keyed:
                out.append(FieldChange(child, None, b[child], "added"))
            else:
                out.extend(FieldChange(p, None, v) for p, v in flatten(b[child], child).items())
        elif a[child] != b[child]:
            _walk(a[child], b[child], child, out)


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    """What applying ``head`` does to a site deployed from ``base``."""
    base = check_format(base, "the base plan")
    head = check_format(head, "the head plan")
    olds = {r["urn"]: r for r in base["resources"]}
    news = {r["urn"]: r for r in head["resources"]}
    renamed = _renamed(olds, news)  # new URN -> old URN
    for new_urn, old_urn in renamed.items():
        olds[new_urn] = olds.pop(old_urn)
    changes: list[Change] = []
    unchanged = 0
    for urn in sorted(olds.keys() | news.keys()):
        old, new = olds.get(urn), news.get(urn)
        if urn in renamed and old is not None and new is not None:
            fields = field_changes(old["inputs"], new["inputs"])
            kind: Kind = "replace" if _replaced(new, fields) else "update"
            changes.append(
                _change(
                    kind,
                    old,
                    fields,
                    renamed_from=renamed[urn],
                    name=new["name"],
                    losses=_losses(old, new),
                )
            )
        elif old is None and new is not None:
            changes.append(_change("add", new))
        elif new is None and old is not None:
            changes.append(_change("delete", old, losses=_held(old)))
        elif old is not None and new is not None:
            fields = field_changes(old["inputs"], new["inputs"])
            if not fields:
                unchanged += 1
                continue
            # protect is judged on the deployed resource: that is what would go
            kind = "replace" if _replaced(new, fields) else "update"
            lost = _held(old) if kind == "replace" else _losses(old, new)
            changes.append(_change(kind, old, fields, losses=lost))
    return PlanDiff(str(head.get("stack", "")), tuple(changes), unchanged)


def _renamed(olds: dict[str, Any], news: dict[str, Any]) -> dict[str, str]:
    """Resources of ``news`` that an alias ties to a resource of ``olds`` under another URN
    (the engine then moves the deployed resource to the new name: nothing is replaced)."""
    found: dict[str, str] = {}
    for urn, r in news.items():
        if urn in olds:
            continue
        for alias in r.get("options", {}).get("aliases", []):
            if alias in olds and alias not in news and alias not in found.values():
                found[urn] = alias
                break
    return found


def _losses(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """What an update of a HostDeploy loses inside it (by its deploy's rules)."""
    role = new["inputs"].get("role")
    if not isinstance(role, str) or role != old["inputs"].get("role"):
        return ()
    return tuple(losses(role, old["inputs"].get("params"), new["inputs"].get("params")))


def _held(old: dict[str, Any]) -> tuple[str, ...]:
    """The data a deleted or replaced HostDeploy's hosts hold."""
    role = old["inputs"].get("role")
    return tuple(held(role, old["inputs"].get("params"))) if isinstance(role, str) else ()


def _replaced(new: dict[str, Any], fields: tuple[FieldChange, ...]) -> bool:
    keys = set(REPLACE_KEYS.get(new["type"], ())) | set(new["options"].get("replaceOnChanges", []))
    return any(f.path.split(".")[0].split("[")[0] in keys for f in fields)


def _change(
    kind: Kind,
    r: dict[str, Any],
    fields: tuple[FieldChange, ...] = (),
    *,
    renamed_from: str | None = None,
    name: str | None = None,
    losses: tuple[str, ...] = (),
) -> Change:
    return Change(
        kind,
        r["urn"],
        r["type"],
        name or r["name"],
        bool(r["protect"]),
        bool(r["data_bearing"]),
        fields,
        renamed_from,
        losses,
    )


def _secret(v: Any) -> re.Match[str] | None:
    return SECRET_MARK.match(v) if isinstance(v, str) else None


def _incomparable_secrets(old: Any, new: Any) -> bool:
    """Two secrets marked with different keys (plans made apart): whether they differ is
    unknown, so it is not shown as a change."""
    a, b = _secret(old), _secret(new)
    return a is not None and b is not None and a["key"] != b["key"]


def _value(v: Any) -> str:
    if _secret(v):
        return f"`{MASK}`"
    text = json.dumps(v, sort_keys=True, ensure_ascii=False) if v is not None else "(none)"
    return f"`{text if len(text) <= 60 else text[:57] + '...'}`"


def _line(c: Change) -> str:
    why = [w for w, on in (("protected", c.protect), ("data-bearing", c.data_bearing)) if on]
    tag = f" ({', '.join(why)})" if why else ""
    return f"- `{c.type}` **{c.name}**{tag}"


def _fields(c: Change) -> list[str]:
    """One line per whole item added or removed (grouped by its key: a host added shows as
    one line per resource), then the changed leaves; nothing is cut from a change that
    loses data."""
    items: dict[tuple[str, str], list[str]] = {}
    leaves: list[FieldChange] = []
    for f in c.fields:
        if f.item is None:
            leaves.append(f)
            continue
        head, key = _split_item(f.path)
        items.setdefault((f.item, key), []).append(head)
    # keys that went in or out of the same places share one line: 30 hosts added to a
    # group read as one line, not thirty
    by_place: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (how, key), heads in items.items():
        by_place.setdefault((how, tuple(heads)), []).append(key)
    out = []
    for (how, places_of), keys in sorted(by_place.items(), key=lambda kv: kv[0]):
        keys.sort(key=natural)
        listed = ", ".join(f"`{k}`" for k in keys[:MAX_KEYS])
        more = f" and {len(keys) - MAX_KEYS} more" if len(keys) > MAX_KEYS else ""
        places = ", ".join(f"`{h}`" for h in places_of)
        out.append(f"  - {how} {listed}{more} in {places}")
    shown = leaves if c.losses else leaves[:MAX_FIELDS]
    out += [
        f"  - `{f.path}`: `{MASK}` changed"
        if _secret(f.old) and _secret(f.new)
        else f"  - `{f.path}`: {_value(f.old)} → {_value(f.new)}"
        for f in shown
    ]
    if len(leaves) > len(shown):
        out.append(f"  - … and {len(leaves) - len(shown)} more fields")
    return out


def _split_item(path: str) -> tuple[str, str]:
    """``params.pools[db]`` -> (``params.pools``, ``db``); ``params.hosts.h1`` -> (…, ``h1``)."""
    if path.endswith("]"):
        head, _, key = path[:-1].rpartition("[")
        return head, key
    head, _, key = path.rpartition(".")
    return head or "(top)", key


def render_markdown(d: PlanDiff) -> str:
    """The diff as a pull-request comment."""
    counts = {k: len(d.of(k)) for k in ("add", "update", "replace", "delete")}
    lines = [f"## mlsite diff — stack `{d.stack}`", ""]
    if not d.changes:
        lines += [f"No changes ({d.unchanged} resources unchanged).", ""]
    else:
        lines += [
            f"**{counts['add']} to add, {counts['update']} to change, {counts['replace']} to replace, "
            f"{counts['delete']} to delete** ({d.unchanged} unchanged)",
            "",
        ]
    if d.destructive:
        lines += [
            "> [!CAUTION]",
            f"> **Destructive:** {len(d.destructive)} change(s) delete, replace or lose data "
            "inside a protected or data-bearing resource. Check this is intended; protected "
            "resources need `pulumi state unprotect` before `pulumi up` can remove them.",
        ]
        for c in d.destructive:
            lines.append(f"> {c.kind} " + _line(c).removeprefix("- "))
            lines += [f">   - data at risk: {loss}" for loss in c.losses]
        lines.append("")
    sections: list[tuple[Kind, str]] = [
        ("add", "Add"),
        ("update", "Change"),
        ("replace", "Replace"),
        ("delete", "Delete"),
    ]
    for kind, title in sections:
        changes = d.of(kind)
        if not changes:
            continue
        lines.append(f"### {title} ({len(changes)})")
        for c in changes:
            lines.append(_line(c))
            if c.renamed_from:
                lines.append(
                    f"  - renamed from `{c.renamed_from.split('::')[-1]}` (an alias keeps it)"
                )
            if kind in ("update", "replace"):
                lines += _fields(c)
        lines.append("")
    lines += [
        "<sub>Offline plan under Pulumi mocks (no credentials, no hosts): secret values are "
        "masked (`[secret] changed` where both plans were made with one key, as `mlsite diff "
        "--stack` makes them); drift on hosts and cloud-side "
        "defaults are not visible. Where CI has the Pulumi CLI, `pulumi preview --diff` is "
        "authoritative.</sub>",
        "",
    ]
    return "\n".join(lines)

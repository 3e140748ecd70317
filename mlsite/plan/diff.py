"""Compare two plans and write the result as Markdown for a pull-request comment."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from mlsite.plan.tree import FORMAT, MASK
from mlsite.review.keyed import (
    SECRET_MARK,
    FieldChange,
    entries,
    field_changes,
    flatten,
    item_key,
    natural,
)
from mlsite.review.losses import held, losses

__all__ = ["FieldChange", "entries", "field_changes", "flatten", "item_key", "natural"]

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
    """Data an update puts at risk inside the resource (``mlsite.review.losses``)."""

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

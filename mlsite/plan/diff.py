"""Compare two plans and write the result as Markdown for a pull-request comment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from mlsite.plan.tree import FORMAT

Kind = Literal["add", "update", "replace", "delete"]

REPLACE_KEYS: dict[str, tuple[str, ...]] = {
    "pulumi-python:dynamic/hosts:HostDeploy": ("role",),
}
"""Inputs whose change replaces a resource of that type (as its provider's diff says)."""

EXIT_OK = 0
EXIT_DESTRUCTIVE = 3
MAX_FIELDS = 15


class PlanFormatError(ValueError):
    """A file that is not a plan this version understands."""


@dataclass(frozen=True)
class FieldChange:
    """One changed input, by dotted path; values as plans show them (secrets masked)."""

    path: str
    old: Any
    new: Any


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

    @property
    def destructive(self) -> bool:
        """A delete or replace of a protected or data-bearing resource."""
        return self.kind in ("replace", "delete") and (self.protect or self.data_bearing)


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


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves of ``value`` by dotted path (empty mappings and lists are leaves)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    """Changed leaves between two input mappings."""
    a, b = flatten(old), flatten(new)
    missing = object()
    return tuple(
        FieldChange(p, a.get(p), b.get(p))
        for p in sorted(a.keys() | b.keys())
        if a.get(p, missing) != b.get(p, missing)
    )


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
            changes.append(_change(kind, old, fields, renamed_from=renamed[urn], name=new["name"]))
        elif old is None and new is not None:
            changes.append(_change("add", new))
        elif new is None and old is not None:
            changes.append(_change("delete", old))
        elif old is not None and new is not None:
            fields = field_changes(old["inputs"], new["inputs"])
            if not fields:
                unchanged += 1
                continue
            # protect is judged on the deployed resource: that is what would go
            changes.append(_change("replace" if _replaced(new, fields) else "update", old, fields))
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
    )


def _value(v: Any) -> str:
    text = json.dumps(v, sort_keys=True, ensure_ascii=False) if v is not None else "(none)"
    return f"`{text if len(text) <= 60 else text[:57] + '...'}`"


def _line(c: Change) -> str:
    why = [w for w, on in (("protected", c.protect), ("data-bearing", c.data_bearing)) if on]
    tag = f" ({', '.join(why)})" if why else ""
    return f"- `{c.type}` **{c.name}**{tag}"


def _fields(c: Change) -> list[str]:
    out = [f"  - `{f.path}`: {_value(f.old)} → {_value(f.new)}" for f in c.fields[:MAX_FIELDS]]
    if len(c.fields) > MAX_FIELDS:
        out.append(f"  - … and {len(c.fields) - MAX_FIELDS} more fields")
    return out


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
            f"> **Destructive:** {len(d.destructive)} protected or data-bearing resource(s) would be "
            "deleted or replaced. Check this is intended; protected resources need "
            "`pulumi state unprotect` before `pulumi up` can remove them.",
        ]
        lines += [f"> {c.kind} " + _line(c).removeprefix("- ") for c in d.destructive]
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
        "masked, so a changed secret shows only as `[secret]`; drift on hosts and cloud-side "
        "defaults are not visible. Where CI has the Pulumi CLI, `pulumi preview --diff` is "
        "authoritative.</sub>",
        "",
    ]
    return "\n".join(lines)

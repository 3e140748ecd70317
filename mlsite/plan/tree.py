"""The plan document (stable JSON) and its readable tree.

A plan lists every resource the program declares: URN, type, name, parent, inputs and
options. It is stable: resources sorted by URN, keys sorted, no ids, times or pickles;
secret values are masked as ``[secret]``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

from mlsite.plan.mocks import Registration
from mlsite.review import keyed

FORMAT = 1
"""Version of the plan document; ``mlsite diff`` refuses plans of another format."""
MASK = keyed.MASK
UNKNOWN = "[unknown]"
HIDDEN_INPUTS = frozenset({"__provider"})
"""Inputs left out of plans: the pickled provider of dynamic resources."""

DATA_TYPES = frozenset(
    {
        "aws:ebs/volume:Volume",
        "aws:efs/fileSystem:FileSystem",
        "aws:rds/instance:Instance",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "kubernetes:core/v1:PersistentVolume",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:core/v1:Namespace",
    }
)
"""Types holding data even when nobody protected them: deleting one loses data."""


SECRET_KEY_ENV = "MLSITE_PLAN_SECRET_KEY"
"""A one-off key (hex) shared by the plans of one comparison. With it, a secret is shown as
``[secret <key id>:<keyed digest>]``: two plans made with the same key tell whether a
secret changed, and nothing else (the key is random, never stored, and the digest keyed, so
a guessable password cannot be tried against it). Without it, secrets are ``[secret]``."""


def new_secret_key() -> str:
    """A fresh key for ``SECRET_KEY_ENV``."""
    return secrets.token_hex(32)


def secret_mark(value: Any) -> str:
    """How a secret ``value`` appears in a plan (see ``SECRET_KEY_ENV``)."""
    key = os.environ.get(SECRET_KEY_ENV, "")
    if not key:
        return MASK
    plain = value["value"] if rpc.is_rpc_secret(value) else value
    text = json.dumps(mask(plain), sort_keys=True, ensure_ascii=False)
    digest = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:24]
    key_id = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"[secret {key_id}:{digest}]"


def mask(value: Any, secret: bool = False) -> Any:
    """``value`` with secrets masked and unknowns named."""
    if secret or rpc.is_rpc_secret(value):
        return secret_mark(value)
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {str(k): mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # assets, archives, resource references: by their text


def secret_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths of the secret values inside ``value``."""
    if rpc.is_rpc_secret(value):
        return [path]
    if isinstance(value, dict):
        return [
            p for k, v in value.items() for p in secret_paths(v, f"{path}.{k}" if path else str(k))
        ]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in secret_paths(v, f"{path}[{i}]")]
    return []


def resource_doc(reg: Registration, urns: set[str]) -> dict[str, Any]:
    """One resource of the plan."""
    inputs = {
        k: mask(v, k in reg.secret_outputs)
        for k, v in sorted(reg.inputs.items())
        if k not in HIDDEN_INPUTS and v is not None
    }
    secrets = sorted(
        {p for k, v in reg.inputs.items() if k not in HIDDEN_INPUTS for p in secret_paths(v, k)}
        | {k for k in reg.secret_outputs if k in reg.inputs}
    )
    return {
        "urn": reg.urn,
        "type": reg.type,
        "name": reg.name,
        "parent": reg.parent,
        "custom": reg.custom,
        "protect": reg.protect,
        "data_bearing": reg.protect or reg.type in DATA_TYPES,
        "inputs": inputs,
        "secret_inputs": secrets,
        "depends_on": [d for d in reg.depends_on if d in urns],
        "options": dict(sorted(reg.options.items())),
    }


def plan_doc(
    project: str,
    stack: str,
    regs: Iterable[Registration],
    known_secrets: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The plan document of a run."""
    regs = list(regs)
    urns = {r.urn for r in regs}
    resources = sorted((resource_doc(r, urns) for r in regs), key=lambda d: d["urn"])
    doc: dict[str, Any] = {
        "format": FORMAT,
        "project": project,
        "stack": stack,
        "resources": resources,
    }
    if known_secrets:
        _assert_no_secret(doc, known_secrets)
    return doc


def _assert_no_secret(doc: Any, known: frozenset[str]) -> None:
    """Fail (never print) when a known secret value survived masking: a masking bug."""
    if isinstance(doc, dict):
        for v in doc.values():
            _assert_no_secret(v, known)
    elif isinstance(doc, list):
        for v in doc:
            _assert_no_secret(v, known)
    elif isinstance(doc, str) and any(s in doc for s in known if len(s) >= 4):
        raise RuntimeError(
            "a secret value of the site reached the plan unmasked; the plan was not written "
            "(a component passed a secret without pulumi.Output.secret)"
        )


def scrub(text: str, known_secrets: frozenset[str]) -> str:
    """Replace any known secret value in ``text`` (defence in depth for logs and Markdown)."""
    for s in sorted(known_secrets, key=len, reverse=True):
        if len(s) >= 4:
            text = text.replace(s, MASK)
    return text


def render_tree(doc: dict[str, Any]) -> str:
    """The plan as an indented tree, one resource a line."""
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for r in doc["resources"]:
        children[r["parent"]].append(r)
    lines: list[str] = []

    def walk(parent: str | None, prefix: str) -> None:
        kids = children.get(parent, [])
        for i, r in enumerate(kids):
            last = i == len(kids) - 1
            flags = [
                f
                for f, on in (
                    ("protected", r["protect"]),
                    ("data", r["data_bearing"] and not r["protect"]),
                )
                if on
            ]
            if r["secret_inputs"]:
                flags.append("secret: " + ", ".join(r["secret_inputs"]))
            tail = f"  [{'; '.join(flags)}]" if flags else ""
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{r['type']}  {r['name']}{tail}")
            walk(r["urn"], prefix + ("   " if last else "│  "))

    walk(None, "")
    n = len(doc["resources"])
    protected = sum(1 for r in doc["resources"] if r["protect"])
    lines.append(f"{n} resources ({protected} protected) in stack {doc['stack']}")
    return "\n".join(lines) + "\n"

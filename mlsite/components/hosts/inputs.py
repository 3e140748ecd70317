"""Pure planners of HostDeploy inputs: host groups, rendered params, content hashes.

Nothing here talks to Pulumi or to a host; everything is a function of the site
description and of the files of the ``hosts`` package.
"""

from __future__ import annotations

import ast
import enum
import hashlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python

from mlsite.hosts.connection import target_for
from mlsite.hosts.contract import SECRET_REF
from mlsite.spec import Host, Secret

MAX_GROUP_HOSTS = 64
"""Hosts per HostDeploy: pyinfra parallelises inside one call; the engine runs at most 4
provider calls at once, so a 500-host role converges in 8 calls, not 500."""


@dataclass(frozen=True)
class HostGroup:
    """One HostDeploy: a deploy applied to a group of hosts."""

    role: str
    name: str
    """``<deploy>`` for the first group, ``<deploy>-<n>`` for the n-th (n from 2)."""
    hosts: tuple[Host, ...]


def plan_groups(
    role: str, hosts: Sequence[Host], max_hosts: int = MAX_GROUP_HOSTS
) -> list[HostGroup]:
    """Split ``hosts`` (in description order) into groups of at most ``max_hosts``, filled
    one after the other: the first is called ``<deploy>``, the next ``<deploy>-2``, ``<deploy>-3``.
    A site growing past a multiple of ``max_hosts`` gains a group and renames none; a host
    added at the end touches only the last group."""
    if max_hosts < 1:
        raise ValueError("max_hosts must be at least 1")
    return [
        HostGroup(
            role, role if i == 0 else f"{role}-{i + 1}", tuple(hosts[start : start + max_hosts])
        )
        for i, start in enumerate(range(0, len(hosts), max_hosts))
    ]


def former_group_name(group: str, role: str) -> str:
    """The name the first group had before groups were named this way: ``<deploy>-1`` when a
    role had more than one group (the alias that keeps such a site's first group)."""
    return f"{role}-1" if group == role else group


def host_entry(host: Host) -> dict[str, Any]:
    """How the runner reaches ``host`` (the key is a path; credentials never appear). A lab
    host says so: its key is the lab's, found where the lab keeps it when the role runs."""
    return target_for(host).to_json()


@dataclass
class RenderedParams:
    """Params as readable JSON, with every secret replaced by a reference."""

    params: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    """Values of ``value:`` references, keyed by their path; passed as a Pulumi secret."""


def render_params(params: BaseModel | dict[str, Any]) -> RenderedParams:
    """Render a params model: secret strings (``SecretStr``, revealed by the role's
    ``params_for``) and site secrets handed over decrypted become
    ``{"$secret": "value:PATH"}`` with the value kept apart in ``secrets``; ``env`` site
    secrets become ``{"$secret": "env:NAME"}``."""
    out = RenderedParams({})
    rendered = _render(params, "", out.secrets)
    if not isinstance(rendered, dict):
        raise TypeError("params must render to a mapping")
    out.params = rendered
    return out


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Exact types rendered as they are (subclasses, enums among them, take the checks below)."""


def _render(value: Any, path: str, secrets: dict[str, str]) -> Any:
    if type(value) in _PLAIN:  # most values: checked first
        return value
    if isinstance(value, SecretStr):  # hosts' SecretText: revealed by params_for
        secrets[path] = value.get_secret_value()
        return {SECRET_REF: f"value:{path}"}
    if isinstance(value, Secret):
        if value.env is not None:
            return {SECRET_REF: f"env:{value.env}"}
        plain = value._plain if value._plain is not None else value.secure
        if plain is None:  # cannot happen: a Secret always has one source
            raise ValueError(f"secret at {path} has no value")
        secrets[path] = plain
        return {SECRET_REF: f"value:{path}"}
    if isinstance(value, BaseModel):
        return {
            name: _render(getattr(value, name), _join(path, name), secrets)
            for name in type(value).model_fields
        }
    if isinstance(value, dict):
        return {str(k): _render(v, _join(path, str(k)), secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return to_jsonable_python(value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


HOSTS_PACKAGE = "mlsite.hosts"


@cache
def hosts_package_dir() -> Path | None:
    """Directory of the ``mlsite.hosts`` package, found without importing it."""
    spec = importlib.util.find_spec(HOSTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _module_name(role: str) -> str:
    return role.replace("-", "_")


def _module_file(root: Path, module: str) -> Path | None:
    parts = module.split(".")[2:]  # drop the leading "mlsite.hosts"
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _in_hosts(module: str) -> bool:
    return module == HOSTS_PACKAGE or module.startswith(HOSTS_PACKAGE + ".")


def _imports(path: Path) -> set[str]:
    """Modules of the ``hosts`` package that ``path`` imports (read statically, not run)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if _in_hosts(a.name)}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and _in_hosts(node.module)
        ):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # submodules
    return found


def deploy_files(role: str) -> list[Path]:
    """The role's deploy module and every module of ``hosts`` it imports, transitively."""
    root = hosts_package_dir()
    if root is None:
        return []
    start = _module_file(root, f"mlsite.hosts.deploys.{_module_name(role)}.apply")
    seen: dict[Path, None] = {}
    todo = [start] if start is not None else []
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen[f] = None
        for module in _imports(f):
            target = _module_file(root, module)
            if target is not None and target not in seen:
                todo.append(target)
    return sorted(seen)


@cache
def code_hash(role: str) -> str:
    """sha256 over the deploy code a role runs: its module under ``hosts/deploys`` and the
    modules of ``hosts`` it imports, transitively (a change elsewhere is not an update)."""
    root = hosts_package_dir()
    digest = hashlib.sha256()
    for f in deploy_files(role):
        digest.update(f.relative_to(root or f.parent).as_posix().encode() + b"\0")
        digest.update(f.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


@cache
def file_hashes(role: str) -> dict[str, str]:
    """Content hashes of the files a role copies to hosts (``hosts/templates/<role>``)."""
    root = hosts_package_dir()
    if root is None:
        return {}
    out: dict[str, str] = {}
    for base in (root / "templates" / role, root / "templates" / _module_name(role)):
        for f in sorted(p for p in base.rglob("*") if p.is_file()):
            out[f.relative_to(root).as_posix()] = (
                "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest()
            )
    return dict(sorted(out.items()))

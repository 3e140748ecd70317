"""Pure planners of HostDeploy inputs: host groups, rendered params, content hashes.

Nothing here talks to Pulumi or to a host; everything is a function of the site
description and of the files of the ``hosts`` package.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from mlsite.spec import Host, Secret

MAX_GROUP_HOSTS = 64
"""Hosts per HostDeploy: pyinfra parallelises inside one call; the engine runs at most 4
provider calls at once, so a 500-host role converges in 8 calls, not 500."""

SECRET_REF = "$secret"  # same marker as components.hosts.provider.SECRET_REF


@dataclass(frozen=True)
class HostGroup:
    """One HostDeploy: a role applied to a group of hosts."""

    role: str
    name: str
    """``<role>`` when the role fits in one group, else ``<role>-<n>`` (n from 1)."""
    hosts: tuple[Host, ...]


def plan_groups(
    role: str, hosts: Sequence[Host], max_hosts: int = MAX_GROUP_HOSTS
) -> list[HostGroup]:
    """Split ``hosts`` (in description order) into groups of at most ``max_hosts``,
    balanced so that groups differ in size by at most one."""
    if max_hosts < 1:
        raise ValueError("max_hosts must be at least 1")
    if not hosts:
        return []
    n = -(-len(hosts) // max_hosts)
    size, extra = divmod(len(hosts), n)
    groups: list[HostGroup] = []
    start = 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        name = role if n == 1 else f"{role}-{i + 1}"
        groups.append(HostGroup(role, name, tuple(hosts[start:end])))
        start = end
    return groups


def host_entry(host: Host) -> dict[str, Any]:
    """How the runner reaches ``host`` (the key is a path; credentials never appear)."""
    return {
        "name": host.name,
        "address": str(host.address),
        "port": host.ssh.port,
        "user": host.ssh.user,
        "key_file": host.ssh.key,
    }


@dataclass
class RenderedParams:
    """Params as readable JSON, with every secret replaced by a reference."""

    params: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    """Values of ``value:`` references, keyed by their path; passed as a Pulumi secret."""


def render_params(params: BaseModel | dict[str, Any]) -> RenderedParams:
    """Render a params model: ``env`` secrets become ``{"$secret": "env:NAME"}``; secrets
    handed over decrypted by the engine (or ``secure:`` ciphertext in an offline plan)
    become ``{"$secret": "value:PATH"}`` with the value kept apart in ``secrets``."""
    out = RenderedParams({})
    rendered = _render(params, "", out.secrets)
    if not isinstance(rendered, dict):
        raise TypeError("params must render to a mapping")
    out.params = rendered
    return out


def _render(value: Any, path: str, secrets: dict[str, str]) -> Any:
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


@cache
def hosts_package_dir() -> Path | None:
    """Directory of the ``hosts`` package, found without importing it."""
    spec = importlib.util.find_spec("hosts")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _module_name(role: str) -> str:
    return role.replace("-", "_")


@cache
def code_hash(role: str) -> str:
    """sha256 over the deploy code a role runs: the shared modules of ``hosts`` (its
    top-level ``*.py``) and the role's deploy module or package under ``hosts/deploys``."""
    root = hosts_package_dir()
    digest = hashlib.sha256()
    if root is not None:
        files = sorted(root.glob("*.py"))
        deploys = root / "deploys"
        files += sorted(deploys.glob("_*.py"))  # shared helpers of the deploys
        mod = _module_name(role)
        files += sorted(deploys.glob(f"{mod}.py")) + sorted((deploys / mod).rglob("*.py"))
        for f in files:
            digest.update(f.relative_to(root).as_posix().encode() + b"\0")
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

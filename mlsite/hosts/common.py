"""Small helpers shared by the deploys' pyinfra halves (no host access of their own)."""

from __future__ import annotations

from typing import TypeVar

from pyinfra.api.operation import OperationMeta

from mlsite.hosts.operations import text_file

T = TypeVar("T")


def put_text(name: str, dest: str, content: str, mode: str = "644") -> OperationMeta:
    """Install ``content`` at ``dest`` (owned by root); a no-op when it is already there."""
    return text_file(name=name, path=dest, content=content, mode=mode)


def host_entry(per_host: dict[str, T], host_name: str, role: str) -> T:
    """The per-host part of a role's parameters; a clear error when the host is missing."""
    try:
        return per_host[host_name]
    except KeyError:
        raise LookupError(
            f"{role}: no parameters for host {host_name!r} (parameters cover: "
            f"{', '.join(sorted(per_host)) or 'no host'})"
        ) from None

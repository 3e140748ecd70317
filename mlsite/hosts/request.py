"""The runner's wire format: one JSON request on stdin, one JSON result on stdout."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["apply", "dry-run"]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Target(_Wire):
    """A host to run on."""

    name: Annotated[str, Field(min_length=1)]
    address: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    user: Annotated[str, Field(min_length=1)] = "root"
    key_file: str | None = None
    """Private key path; null means the SSH agent's keys."""


class RunRequest(_Wire):
    """What to run: a role's deploy, in a mode, on hosts, with the role's parameters."""

    mode: Mode
    role: str
    hosts: Annotated[tuple[Target, ...], Field(min_length=1)]
    params: dict[str, Any]
    """The role's ``Params`` as JSON, secrets in plain text (stdin only, never argv)."""


class OperationResult(_Wire):
    """One operation on one host."""

    name: str
    changed: bool


class HostResult(_Wire):
    """What happened on one host."""

    changed: int = 0
    operations: tuple[OperationResult, ...] = ()
    errors: tuple[str, ...] = ()


class RunResult(_Wire):
    """The runner's answer."""

    ok: bool
    role: str
    mode: str
    elapsed_s: float
    hosts: dict[str, HostResult]
    error: str | None = None
    """Why the request itself was refused (exit code 2). Absent otherwise."""

    def to_json(self) -> dict[str, Any]:
        """JSON data, ``error`` only when set."""
        return self.model_dump(mode="json", exclude_none=True)

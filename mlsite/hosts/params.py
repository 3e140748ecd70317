"""What every role's parameters share: a frozen pydantic base and secrets that stay hidden.

Parameters are the readable desired state of a role on a group of hosts. They travel as
JSON (to the runner subprocess, into Pulumi inputs); secrets inside them are masked in
every dump unless the caller asks for the plain value with ``dump_params(..., reveal=True)``,
which only the runner request does.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, SecretStr, SerializationInfo, WrapSerializer

from mlsite.spec import Secret

_REVEAL = "reveal_secrets"
MASK = "[secret]"


def _serialize_secret(value: SecretStr, handler: Any, info: SerializationInfo) -> str:
    context = info.context or {}
    if isinstance(context, dict) and context.get(_REVEAL):
        return value.get_secret_value()
    return MASK


SecretText = Annotated[SecretStr, WrapSerializer(_serialize_secret, when_used="always")]
"""A secret string inside role parameters: masked as ``[secret]`` unless revealed."""


class DeployParams(BaseModel):
    """Base of every deploy's ``Params``: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def dump_params(params: DeployParams, *, reveal: bool = False) -> dict[str, Any]:
    """``params`` as JSON data; secrets masked unless ``reveal`` (runner requests only)."""
    return params.model_dump(mode="json", context={_REVEAL: reveal})


def secret_values(value: object) -> set[str]:
    """Every plain secret value inside ``value`` (params, containers), for redaction."""
    found: set[str] = set()
    if isinstance(value, SecretStr):
        plain = value.get_secret_value()
        if plain:
            found.add(plain)
    elif isinstance(value, Secret):  # a site secret carried as is (revealed in the deploy)
        with contextlib.suppress(LookupError):  # not readable here: nothing to redact
            found.add(value.reveal())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= secret_values(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            found |= secret_values(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            found |= secret_values(item)
    return found


def redact(text: str, secrets: set[str]) -> str:
    """``text`` with every secret value replaced by ``[secret]`` (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text

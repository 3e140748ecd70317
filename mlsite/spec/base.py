"""Shared building blocks of the site model: the frozen model base and secrets."""

from __future__ import annotations

import os
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
]
"""A DNS label: lower-case letters, digits and inner hyphens, at most 63 characters."""

PositiveInt = Annotated[int, Field(gt=0)]


class Model(BaseModel):
    """Base of every part of the site description: immutable, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=True,
    )


class Secret(Model):
    """A secret value. In a stack file it is either a Pulumi ``secure:`` value (set it with
    ``pulumi config set --secret --path 'mlsite:site.<path>' VALUE``) or ``env: NAME`` to
    read it from the environment at apply time (convenient for labs and CI).

    The value is never printed: ``repr`` and plans show ``[secret]``.
    """

    secure: str | None = None
    """Pulumi-encrypted ciphertext, kept opaque. Omitted when ``env`` is used."""
    env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    """Name of an environment variable holding the value. Omitted when ``secure`` is used."""

    _plain: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _one_source(
        cls, data: Any, handler: ModelWrapValidatorHandler[Secret], info: ValidationInfo
    ) -> Secret:
        if isinstance(data, str):
            # Under the Pulumi engine the config arrives decrypted: plain text is accepted
            # only when the caller says so (validation context), never from a stack file.
            if not (info.context or {}).get("plaintext_secrets"):
                raise ValueError(
                    "a secret must not be written in plain text; use "
                    "`pulumi config set --secret --path 'mlsite:site.<path>' VALUE` "
                    "(a `secure:` value) or `{env: VARIABLE}`"
                )
            obj = handler({})
            obj._plain = data
            return obj
        obj = handler(data)
        if (obj.secure is None) == (obj.env is None):
            raise ValueError(
                "a secret takes exactly one of `secure: CIPHERTEXT` or `env: VARIABLE`"
            )
        return obj

    @property
    def source(self) -> str:
        """Where the value comes from, safe to print: ``secure``, ``env:NAME`` or ``runtime``."""
        if self.env is not None:
            return f"env:{self.env}"
        if self.secure is not None:
            return "secure"
        return "runtime"

    def reveal(self) -> str:
        """Return the plain value. Only apply-time code calls this, never plans or logs."""
        if self._plain is not None:
            return self._plain
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise LookupError(f"environment variable {self.env} (a secret) is not set")
            return value
        raise LookupError(
            "this secret is a Pulumi `secure:` value; it is decrypted only when the "
            "program runs under `pulumi up` (or set it with `{env: NAME}` for the lab)"
        )

    def __repr__(self) -> str:
        return f"Secret({self.source}, [secret])"

    __str__ = __repr__


def _ip_text(value: Any) -> Any:
    # ipaddress also takes integers (and so YAML's true/false): only text is an address here
    if isinstance(value, int):
        raise ValueError("write the address as text, e.g. 10.0.0.11 or 10.0.0.0/24")
    return value


IpAddress = Annotated[IPv4Address, BeforeValidator(_ip_text)]
"""An IPv4 address written as text."""
IpNetwork = Annotated[IPv4Network, BeforeValidator(_ip_text)]
"""An IPv4 network in CIDR notation, written as text."""

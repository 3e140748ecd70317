"""Site secrets as Pulumi outputs."""

from __future__ import annotations

import pulumi
from pulumi.output import UNKNOWN

from mlsite.spec import Secret


def secret_output(secret: Secret) -> pulumi.Output[str]:
    """The secret's value as a secret output, read when the program runs (never printed);
    unknown when it cannot be read here (an offline plan without the environment)."""
    try:
        value = secret.reveal()
    except LookupError:
        unknown: pulumi.Output[str] = pulumi.Output.from_input(UNKNOWN)  # type: ignore[arg-type]
        return pulumi.Output.secret(unknown)
    return pulumi.Output.secret(value)

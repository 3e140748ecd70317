"""Outputs of values the program knows when it runs."""

from __future__ import annotations

from typing import TypeVar

import pulumi

T = TypeVar("T")


def known(value: T) -> pulumi.Output[T]:
    """``value`` (plain data: no Output or awaitable inside) as one resolved Output.

    ``pulumi.Output.from_input`` unwraps a list element by element, one Output per element
    gathered into another (500 host names: 500 Outputs); this makes a single one."""
    return pulumi.Output.from_input(None).apply(lambda _: value)

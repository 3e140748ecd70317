"""Resource options a component hands down to its children.

Pulumi passes ``parent``, ``protect`` and providers from a component to its children, but not
``depends_on``: a component told to wait for something would otherwise register children that
do not wait. Every mlsite component builds its children's options here, so what a stack
program gives a component reaches every resource under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


def depends_on_of(opts: pulumi.ResourceOptions | None) -> list[Any]:
    """``opts.depends_on`` as a list (it may be one resource, a list, or absent)."""
    if opts is None or opts.depends_on is None:
        return []
    if isinstance(opts.depends_on, pulumi.Resource):
        return [opts.depends_on]
    if isinstance(opts.depends_on, (list, tuple)):
        return list(opts.depends_on)
    return [opts.depends_on]  # an Output of resources: Pulumi resolves it


def child_options(
    parent: pulumi.ComponentResource,
    opts: pulumi.ResourceOptions | None,
    *,
    depends_on: Sequence[Any] = (),
    protect: bool | None = None,
    aliases: Sequence[pulumi.Alias] | None = None,
) -> pulumi.ResourceOptions:
    """Options of a child of ``parent``, which was created with ``opts``: it waits for what
    ``opts.depends_on`` names and for ``depends_on``; ``protect`` None inherits the parent's."""
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=[*depends_on_of(opts), *depends_on],
        protect=protect,
        aliases=list(aliases) if aliases else None,
    )

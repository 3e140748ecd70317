"""Keep two answers pyinfra recomputes on every call, which cannot change in a process.

Profiling a 10-host no-op re-apply showed them as the runner's largest costs after the
interpreter's start:

- **Connector lookup.** Every ``Inventory`` reads the entry points of every installed
  distribution to find pyinfra's connectors (importlib.metadata keeps no cache): 30-40 ms
  each time here. Fact discovery (``hosts.prefetch``) makes a scratch inventory per host
  per round.
- **Global argument types.** Every operation call and every fact read asks
  ``typing.get_type_hints`` for the ~35 global arguments (``_sudo``, ``_timeout``, ...):
  ~0.35 ms a call, 0.44 s of a 10-host run.

Both are kept after their first answer. The installed connectors and the argument
classes are fixed once pyinfra is imported; callers get a fresh list each time.
"""

from __future__ import annotations

import functools
from typing import Any


def install() -> None:
    """Keep both answers (idempotent)."""
    import pyinfra.api.arguments as arguments
    import pyinfra.api.connectors as connectors
    import pyinfra.api.facts as facts
    import pyinfra.api.inventory as inventory

    if getattr(connectors.get_all_connectors, "cache_info", None) is None:
        lookup = functools.cache(connectors.get_all_connectors)
        connectors.get_all_connectors = lookup
        inventory.get_all_connectors = lookup  # type: ignore[attr-defined]  # imported by name

    if not getattr(arguments.all_global_arguments, "mlsite_kept", False):
        kept = tuple(arguments.all_global_arguments())

        def all_global_arguments() -> list[tuple[str, Any]]:
            return list(kept)

        all_global_arguments.mlsite_kept = True  # type: ignore[attr-defined]
        arguments.all_global_arguments = all_global_arguments
        facts.all_global_arguments = all_global_arguments  # type: ignore[attr-defined]  # imported by name

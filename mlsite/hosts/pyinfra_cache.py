"""Three lookups pyinfra repeats on every operation call and fact read, done once here.

Profiling a 10-host no-op re-apply showed them as the runner's largest costs after the
interpreter's start:

- **Connector lookup.** Every ``Inventory`` reads the entry points of every installed
  distribution to find pyinfra's connectors (importlib.metadata keeps no cache): 30-40 ms
  each time here. Fact discovery (``mlsite.hosts.prefetch``) makes a scratch inventory per host
  per round.
- **Global argument types.** Every operation call and every fact read asks
  ``typing.get_type_hints`` for the ~35 global arguments (``_sudo``, ``_timeout``, ...):
  ~0.35 ms a call, 0.44 s of a 10-host run.

Both are kept after their first answer. The installed connectors and the argument
classes are fixed once pyinfra is imported; callers get a fresh list each time.

- **Global arguments from host data.** Every operation call and every fact read looks
  each of the ~35 global arguments up in the host's data: ``getattr(host.data, key)``
  calls every data layer's function again for each key (the group layer merges the
  host's group data each time) and then searches the layers. Profiled on a 10-host base
  re-apply: ~12,000 lookups, 0.3 s of CPU, the runner's largest cost that grows with
  hosts. Here each call resolves the layers once and searches them for every key, in
  pyinfra's order, copying what it finds as pyinfra does. Nothing is kept between calls,
  so data set during the run (``host.data.x = ...``, deploy data) is always seen;
  everything else (config defaults, deploy keyword arguments, handlers, type checks)
  runs exactly as in pyinfra.
"""

from __future__ import annotations

import copy
import functools
import importlib
from collections.abc import Callable
from typing import Any


def install() -> None:
    """Put the three in place (idempotent)."""
    import pyinfra.api.arguments as arguments
    import pyinfra.api.connectors as connectors
    import pyinfra.api.facts as facts
    import pyinfra.api.inventory as inventory

    # pyinfra.api re-exports the decorators under their modules' names, so
    # ``import pyinfra.api.deploy as deploy`` binds the function, not the module
    deploy = importlib.import_module("pyinfra.api.deploy")
    operation = importlib.import_module("pyinfra.api.operation")
    from pyinfra.api.exceptions import ArgumentTypeError
    from pyinfra.api.util import raise_if_bad_type
    from pyinfra.context import ctx_config

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

    if not getattr(arguments.pop_global_arguments, "mlsite_kept", False):
        original = arguments.pop_global_arguments
        missing = arguments.default_sentinel

        def host_values(host: Any) -> Callable[[str], Any]:
            """A lookup of the host's data as ``getattr(host.data, key)`` answers it (absent:
            ``missing``), over the layers as they are now."""
            layers = [layer() if callable(layer) else layer for layer in host.data.datas]

            def value(key: str) -> Any:
                for layer in layers:
                    if isinstance(layer, dict):
                        if key in layer:
                            return copy.copy(layer[key])
                        continue
                    try:
                        return copy.copy(layer[key])
                    except KeyError:
                        pass
                return missing

            return value

        def pop_global_arguments(state: Any, host: Any, kwargs: Any) -> Any:
            value_of = host_values(host)
            config = ctx_config.get() if ctx_config.isset() else state.config  # type: ignore[no-untyped-call]
            meta_kwargs = host.current_deploy_kwargs or {}
            result: dict[str, Any] = {}
            found_keys: list[str] = []
            for key, type_ in arguments.all_global_arguments():
                meta = arguments.all_argument_meta[key]
                found = value_of(key)
                default = meta.default(config) if found is missing else found
                if key in kwargs:
                    found_keys.append(key)
                    value = kwargs.pop(key)
                else:
                    value = meta_kwargs.get(key, default)
                if meta.handler:
                    value = meta.handler(config, value)
                if value != default:
                    raise_if_bad_type(value, type_, ArgumentTypeError, f"Invalid argument `{key}`:")
                result[key] = value
            return result, found_keys

        pop_global_arguments.mlsite_kept = True  # type: ignore[attr-defined]
        pop_global_arguments.pyinfra_original = original  # type: ignore[attr-defined]
        arguments.pop_global_arguments = pop_global_arguments
        for module in (deploy, facts, operation):
            module.pop_global_arguments = pop_global_arguments  # type: ignore[attr-defined]  # imported by name

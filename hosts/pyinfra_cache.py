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

- **Global arguments from host data.** Every operation call and fact read looks each
  global argument up in the host's data (``getattr(host.data, key)`` walks every data
  layer and copies what it finds): ~35 lookups, 0.1 s of a 10-host base re-apply. The
  lookups of a host are kept while its data cannot have changed: no value set during the
  run (``host.data.x = ...``) and no layer computed per call (deploy data defaults). What
  is handed out is copied as pyinfra copies it; everything else (config defaults, deploy
  keyword arguments, handlers, type checks) runs exactly as in pyinfra.
"""

from __future__ import annotations

import copy
import functools
import weakref
from typing import Any


def install() -> None:
    """Keep both answers (idempotent)."""
    import pyinfra.api.arguments as arguments
    import pyinfra.api.connectors as connectors
    import pyinfra.api.deploy as deploy
    import pyinfra.api.facts as facts
    import pyinfra.api.inventory as inventory
    import pyinfra.api.operation as operation
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
        kept_data: weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], dict[str, Any]]] = (
            weakref.WeakKeyDictionary()
        )
        keys = [key for key, _ in arguments.all_global_arguments()]

        def host_values(host: Any) -> dict[str, Any] | None:
            """The host's data for every global argument (absent keys left out), or None
            while its data may change."""
            data = host.data
            layers = data.datas
            if data.override_datas or any(callable(layer) for layer in layers):
                return None
            found = kept_data.get(host)
            if found is None or found[0] is not layers:
                missing = arguments.default_sentinel
                looked = {key: getattr(data, key, missing) for key in keys}
                found = (layers, {k: v for k, v in looked.items() if v is not missing})
                kept_data[host] = found
            return found[1]

        def pop_global_arguments(state: Any, host: Any, kwargs: Any) -> Any:
            values = host_values(host)
            if values is None:
                return original(state, host, kwargs)
            config = ctx_config.get() if ctx_config.isset() else state.config  # type: ignore[no-untyped-call]
            meta_kwargs = host.current_deploy_kwargs or {}
            result: dict[str, Any] = {}
            found_keys: list[str] = []
            for key, type_ in arguments.all_global_arguments():
                meta = arguments.all_argument_meta[key]
                default = copy.copy(values[key]) if key in values else meta.default(config)
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

"""Serves mlsite's Pulumi dynamic providers: the engine's ``pulumi-resource-pulumi-python``.

A dynamic resource keeps its provider in the state as a pickle that names the module the
provider class was defined in. An older mlsite installed its packages as the top-level
``components`` and ``hosts``; resources it created still name those modules, and the engine
hands that pickle back to read (refresh) or delete them. This process, and only this one,
maps the old module names onto ``mlsite.components`` and ``mlsite.hosts``, so such stacks
refresh and converge without hand edits of their state. Nothing is installed under the old
names: a user's own ``components`` package is untouched everywhere else.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import runpy
import sys
from types import ModuleType

LEGACY = {"components": "mlsite.components", "hosts": "mlsite.hosts"}
"""Old top-level package -> where it lives now."""
MOVED = {"mlsite.components.registry.ca": "mlsite.components.ca"}
"""Modules that moved inside the namespace since (after the mapping above)."""


def current_name(legacy: str) -> str | None:
    """Where the module once called ``legacy`` lives now (None: not an old name)."""
    top, _, rest = legacy.partition(".")
    if top not in LEGACY:
        return None
    name = LEGACY[top] + (f".{rest}" if rest else "")
    return MOVED.get(name, name)


class _LegacyNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of old names with the modules they became (the same objects)."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if current_name(fullname) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}
        """Each module's own spec, by its current name: the import system overwrites it
        with the old name's between ``create_module`` and ``exec_module``."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        name = current_name(spec.name)
        assert name is not None
        module = importlib.import_module(name)
        self._specs.setdefault(module.__name__, module.__spec__)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._specs[module.__name__]


def install_legacy_names() -> None:
    """Let old module names be imported (once per process)."""
    if not any(isinstance(f, _LegacyNames) for f in sys.meta_path):
        sys.meta_path.insert(0, _LegacyNames())  # before the path finder: the old packages
        # resolve to the new ones, whose __path__ would otherwise load each module twice


def main() -> None:
    """Run Pulumi's dynamic provider server with the old names available."""
    install_legacy_names()
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

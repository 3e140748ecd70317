"""Serves mlsite's Pulumi dynamic providers: the engine's ``pulumi-resource-pulumi-python``.

A dynamic resource keeps its provider in the state as a pickle that names the module the
provider class was defined in. An older mlsite installed its packages as the top-level
``components`` and ``hosts``; resources it created still name those modules, and the engine
hands that pickle back to read (refresh) or delete them. This process, and only this one,
maps the old module names onto ``mlsite.components`` and ``mlsite.hosts``, so such stacks
refresh and converge without hand edits of their state. Nothing is installed under the old
names: a user's own ``components`` package is untouched everywhere else.

It also lets the engine tell mlsite's review: a provider diff that names the changed paths
(list items matched by identity) and the data at risk becomes the engine's detailed diff and
warnings, and what a deploy reports after a run is shown as a warning of its resource.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import re
import runpy
import sys
from types import ModuleType
from typing import Any

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


PROVIDER_KEY = "__provider"
KINDS = ("add", "add-replace", "delete", "delete-replace", "update", "update-replace")
"""Detailed-diff kinds a provider's ``ReviewedDiff`` may name (``PropertyDiff.Kind``)."""


def engine_address(argv: list[str]) -> str | None:
    """The engine's gRPC address among the plugin's arguments (the engine passes it last,
    after any flags); None when there is none (the server is then run by hand)."""
    for arg in reversed(argv):
        if re.fullmatch(r"[\w.\-]+:\d+", arg):
            return arg
    return None


class EngineLog:
    """Diagnostics for the engine's display, attached to a resource (``urn``)."""

    def __init__(self, address: str | None) -> None:
        self._stub: Any = None
        if address:
            import grpc
            from pulumi.runtime.proto import engine_pb2_grpc

            self._stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address))

    def warn(self, urn: str, message: str) -> None:
        """Show ``message`` as a warning of the resource ``urn`` (stderr without an engine)."""
        from pulumi.runtime.proto import engine_pb2

        if self._stub is None:
            print(f"warning: {urn}: {message}", file=sys.stderr)
            return
        request = engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=message, urn=urn)
        self._stub.Log(request)


def reviewed(servicer: Any, log: EngineLog) -> Any:
    """``servicer`` (the SDK's dynamic provider server) whose Diff also tells the engine
    which property paths change and warns of the data at risk, when the provider's diff
    says so (``ReviewedDiff``); whose Create, Update and Read warn of what the deploy
    reports (the ``notices`` output). Other providers' answers are unchanged."""
    from pulumi.runtime import proto, rpc

    get_provider = type(servicer).Diff.__globals__["get_provider"]
    plain_diff, plain = (
        servicer.Diff,
        {name: getattr(servicer, name) for name in ("Create", "Update", "Read")},
    )

    def diff(request: Any, context: Any) -> Any:
        try:
            olds = rpc.deserialize_properties(request.olds, True)
            news = rpc.deserialize_properties(request.news, True)
            source = olds if news.get(PROVIDER_KEY) == rpc.UNKNOWN else news
            result = get_provider(source, servicer._config).diff(request.id, olds, news)
        except Exception:  # the SDK's own Diff reports the failure its way
            return plain_diff(request, context)
        codes = proto.DiffResponse
        fields: dict[str, Any] = {
            "changes": codes.DIFF_UNKNOWN
            if result.changes is None
            else (codes.DIFF_SOME if result.changes else codes.DIFF_NONE)
        }
        if result.replaces is not None:
            fields["replaces"] = result.replaces
        if result.delete_before_replace is not None:
            fields["deleteBeforeReplace"] = result.delete_before_replace
        response = proto.DiffResponse(**fields)
        detailed = getattr(result, "detailed", None)
        for loss in getattr(result, "losses", None) or ():
            log.warn(request.urn, f"data at risk: {loss}")
        if not isinstance(detailed, dict):
            return response
        kinds = proto.PropertyDiff.Kind
        for path, how in detailed.items():
            if how in KINDS:
                kind = getattr(kinds, how.upper().replace("-", "_"))
                response.detailedDiff[path].CopyFrom(proto.PropertyDiff(kind=kind))
        response.hasDetailedDiff = True
        return response

    def reporting(name: str) -> Any:
        def call(request: Any, context: Any) -> Any:
            response = plain[name](request, context)
            try:
                outs = rpc.deserialize_properties(response.properties, True)
            except Exception:
                return response
            notices = outs.get("notices") if isinstance(outs, dict) else None
            for host, said in sorted((notices or {}).items()):
                for text in said or ():
                    log.warn(request.urn, f"{host}: {text}")
            return response

        return call

    servicer.Diff = diff
    for name in plain:
        setattr(servicer, name, reporting(name))
    return servicer


def _review_servicers(log: EngineLog) -> None:
    """Have the SDK's server register reviewed servicers (see ``reviewed``)."""
    from pulumi.runtime.proto import provider_pb2_grpc

    register = provider_pb2_grpc.add_ResourceProviderServicer_to_server

    def add(servicer: Any, server: Any) -> Any:
        return register(reviewed(servicer, log), server)

    provider_pb2_grpc.add_ResourceProviderServicer_to_server = add


def main() -> None:
    """Run Pulumi's dynamic provider server with the old names available and its answers
    reviewed (detailed diffs, data at risk and reports shown by the engine)."""
    install_legacy_names()
    _review_servicers(EngineLog(engine_address(sys.argv[1:])))
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

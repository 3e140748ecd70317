"""Pulumi's mock runtime, recording every registration with its options.

``MockMonitor`` hands ``Mocks.new_resource`` only type, name and inputs; a plan also
needs the parent, ``protect``, secret outputs and dependencies, so ``RecordingMonitor``
reads them off the raw registration request. Anything the plan cannot answer offline
(function calls, reading existing resources) fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks


class UnmockedCall(RuntimeError):
    """The program asked for something the offline plan cannot know."""


@dataclass
class Registration:
    """One resource as the program registered it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    inputs: dict[str, Any]
    """Deserialized inputs; secrets are still wrapped (``rpc.is_rpc_secret``)."""
    secret_outputs: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


class PlanMocks(Mocks):
    """Resources echo their inputs as outputs, with a stable made-up id; calls fail."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        raise UnmockedCall(
            f"the offline plan cannot call {args.token}: a stack program must not depend on "
            "functions that read live state (move the lookup to stack config)"
        )


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration request, in order."""

    def __init__(self, mocks: Mocks | None = None) -> None:
        super().__init__(mocks or PlanMocks())
        self.registrations: list[Registration] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them: a child's type is qualified by its parent's type,
        except under the stack itself (the SDK's mock qualifies those with
        ``pulumi:pulumi:Stack$``, which no real engine does)."""
        if parent and parent.split("::")[2].split("$")[-1] == "pulumi:pulumi:Stack":
            parent = ""
        return str(super().make_urn(parent, type_, name))

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = {} if request.type == "pulumi:pulumi:Stack" else _inputs(request)
        options: dict[str, Any] = {}
        for key in ("ignoreChanges", "replaceOnChanges"):
            value = list(getattr(request, key))
            if value:
                options[key] = [str(v) for v in value]
        if request.deleteBeforeReplace:
            options["deleteBeforeReplace"] = True
        if request.HasField("retainOnDelete") and request.retainOnDelete:
            options["retainOnDelete"] = True
        if request.provider:
            options["provider"] = request.provider.split("::")[0]
        aliases = sorted({self._alias_urn(request, a) for a in request.aliases})
        if aliases:
            options["aliases"] = aliases
        self.registrations.append(
            Registration(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                protect=bool(request.protect),
                inputs=inputs,
                secret_outputs=tuple(sorted(request.additionalSecretOutputs)),
                depends_on=tuple(sorted(set(request.dependencies))),
                options=options,
            )
        )
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def _alias_urn(self, request: Any, alias: Any) -> str:
        """The URN an alias names: given whole, or made from a spec whose missing parts are
        the resource's own (name, type, parent)."""
        if alias.WhichOneof("alias") == "urn":
            return str(alias.urn)
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)

    def ReadResource(self, request: Any) -> Any:
        raise UnmockedCall(
            f"the offline plan cannot read the existing resource {request.type} {request.name!r} "
            f"(id {request.id!r}); pass what you need from it through stack config"
        )


def _inputs(request: Any) -> dict[str, Any]:
    props = rpc.deserialize_properties(request.object, keep_unknowns=True)
    return dict(props) if isinstance(props, dict) else {}

"""Operation-level harness: a deploy, its parameters and a host's facts -> commands.

No host is contacted: pyinfra's fact lookup is replaced by a table (a fact class name ->
value, or a callable taking the fact's arguments), every unlisted fact takes its default
(``FactBase.default()``: absent file, no packages...). The result lists each operation's
name with the commands pyinfra would run (uploads as ``upload <dest>`` plus their content).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from typing import Any
from unittest import mock

from pyinfra.api import Config, Inventory, State
from pyinfra.api.command import FileUploadCommand, FunctionCommand, StringCommand
from pyinfra.api.state import StateStage
from pyinfra.context import ctx_host, ctx_state

from mlsite.hosts import notices

DEBIAN_12 = {"name": "Debian", "major": 12, "minor": None, "release_meta": {}}
DEBIAN_13 = {"name": "Debian", "major": 13, "minor": None, "release_meta": {}}
UBUNTU_22 = {"name": "Ubuntu", "major": 22, "minor": 4, "release_meta": {}}
UBUNTU_24 = {"name": "Ubuntu", "major": 24, "minor": 4, "release_meta": {}}


@dataclass
class Op:
    """One planned operation."""

    name: str
    commands: list[str]
    uploads: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Every command, one per line."""
        return "\n".join(self.commands)


@dataclass
class Plan:
    """Planned operations of one host."""

    ops: list[Op]
    error: Exception | None = None
    notices: tuple[str, ...] = ()
    """What the deploy reported (``mlsite.hosts.notices``)."""

    def op(self, prefix: str) -> Op:
        """The operation whose name starts with ``prefix``."""
        matches = [o for o in self.ops if o.name.startswith(prefix)]
        assert matches, f"no operation named {prefix!r}*; have: {[o.name for o in self.ops]}"
        return matches[0]

    def has(self, prefix: str) -> bool:
        """Whether an operation named ``prefix``* is planned."""
        return any(o.name.startswith(prefix) for o in self.ops)

    @property
    def changed(self) -> list[str]:
        """Names of the operations that would change something."""
        return [o.name for o in self.ops if o.commands]

    def upload(self, dest: str) -> str:
        """The content uploaded to ``dest``."""
        for o in self.ops:
            if dest in o.uploads:
                return o.uploads[dest]
        raise AssertionError(f"nothing uploaded to {dest}")

    @property
    def all_commands(self) -> str:
        """Every command of every operation, one per line."""
        return "\n".join(o.text for o in self.ops)


FactValue = Any | Callable[..., Any]


def _fake_get_fact(table: dict[str, FactValue]) -> Callable[..., Any]:
    def get_fact(
        state: Any, host: Any, cls: Any, args: Any = None, kwargs: Any = None, **_: Any
    ) -> Any:
        name = cls.__name__
        if name in table:
            value = table[name]
            if callable(value):
                return value(*(args or ()), **(kwargs or {}))
            return value
        return cls().default()

    return get_fact


def _render(command: Any) -> tuple[str, dict[str, str]]:
    if isinstance(command, StringCommand):
        return command.get_raw_value(), {}
    if isinstance(command, FileUploadCommand):
        src = command.src
        content = src.getvalue() if isinstance(src, StringIO) else str(src)
        return f"upload {command.dest}", {command.dest: content}
    if isinstance(command, FunctionCommand):
        return f"python {getattr(command.function, '__name__', 'function')}", {}
    return str(command), {}


@contextmanager
def _state(host_name: str, data: dict[str, Any]) -> Iterator[tuple[State, Any]]:
    inventory = Inventory(([(host_name, data)], {}))
    state = State(inventory, Config())
    host = inventory.get_host(host_name)
    state.activate_host(host)
    state.set_stage(StateStage.Prepare)
    yield state, host


def plan(
    deploy: Callable[[Any], Any],
    params: Any,
    facts: dict[str, FactValue],
    host_name: str = "h1",
    data: dict[str, Any] | None = None,
) -> Plan:
    """The operations ``deploy(params)`` plans on a host with ``facts``."""
    with (
        _state(host_name, data or {}) as (state, host),
        mock.patch("pyinfra.api.host.get_fact", _fake_get_fact(facts)),
        ctx_state.use(state),
        ctx_host.use(host),
    ):
        error: Exception | None = None
        try:
            deploy(params)
        except Exception as exc:  # the caller asserts on refusals
            error = exc
        ops: list[Op] = []
        for op_hash in state.get_op_order():
            op_data = state.ops[host].get(op_hash)
            if op_data is None:
                continue
            name = ", ".join(sorted(state.get_op_meta(op_hash).names))
            commands: list[str] = []
            uploads: dict[str, str] = {}
            for command in op_data.command_generator():
                text, up = _render(command)
                commands.append(text)
                uploads.update(up)
            ops.append(Op(name=name, commands=commands, uploads=uploads))
        said = notices.of(state, host_name)
    return Plan(ops=ops, error=error, notices=said)

"""Run one role's deploy on a set of hosts with the pyinfra API, in this process.

Dry run: pyinfra prepares every operation against the hosts' facts (which is how it knows
what would change) and stops there. Apply: it then executes the operations.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host as PyinfraHost
from pyinfra.api.inventory import Inventory
from pyinfra.api.operations import run_ops
from pyinfra.api.state import BaseStateCallback, State, StateStage
from pyinfra.context import ctx_host, ctx_state

from mlsite.hosts import notices, openssh
from mlsite.hosts.connection import CONNECT_TIMEOUT_S, ssh_data
from mlsite.hosts.contract import HostResult, Mode, OperationResult, Target
from mlsite.hosts.params import DeployParams
from mlsite.hosts.prefetch import prefetch

log = logging.getLogger("mlsite.hosts")


class _Errors(BaseStateCallback):
    """Collects per-host connection errors."""

    def __init__(self) -> None:
        self.by_host: dict[str, list[str]] = {}

    def host_connect_error(self, state: State, host: PyinfraHost, error: Any) -> None:  # type: ignore[override]
        self.by_host.setdefault(host.name, []).append(f"cannot connect: {error}")


def target_inventory(
    targets: tuple[Target, ...],
    extra: dict[str, Any] | None = None,
    *,
    shared_ssh: bool = True,
) -> Inventory:
    """A pyinfra inventory of runner targets, reached with the OpenSSH client and shared
    connections (``mlsite.hosts.openssh``) where it is installed, else (or without
    ``shared_ssh``) with pyinfra's own paramiko connector."""
    hosts = [
        (
            t.name,
            {
                **ssh_data(t.address, t.port, t.user, Path(t.key_file) if t.key_file else None),
                **(extra or {}),
            },
        )
        for t in targets
    ]
    inventory = Inventory((hosts, {}))  # type: ignore[no-untyped-call]
    if shared_ssh and openssh.available():
        openssh.use_openssh(inventory)
    return inventory


def execute(
    inventory: Inventory,
    deploy: Callable[[DeployParams], Any],
    params: DeployParams,
    mode: Mode,
    *,
    prefetch_facts: bool = False,
) -> dict[str, HostResult]:
    """Run ``deploy(params)`` on every inventory host; per-host results.

    ``prefetch_facts``: read the deploy's facts in a few batched round trips per host
    (``mlsite.hosts.prefetch``) instead of one SSH command per fact."""
    config = Config(  # type: ignore[no-untyped-call]
        PARALLEL=max(1, len(inventory)), CONNECT_TIMEOUT=CONNECT_TIMEOUT_S
    )
    state = State(inventory, config)
    errors = _Errors()
    state.add_callback_handler(errors)  # type: ignore[no-untyped-call]
    converged: set[PyinfraHost] = set()
    try:
        state.set_stage(StateStage.Connect)
        connect_all(state)
        _no_delay(state)
        state.set_stage(StateStage.Prepare)
        _prepare(state, deploy, params, errors.by_host, prefetch_facts)
        converged = {h for h in state.active_hosts if state.get_meta_for_host(h).ops_change == 0}
        if mode == "apply" and state.active_hosts - converged:
            state.set_stage(StateStage.Execute)
            _run_changing(state, converged)
    except PyinfraError as exc:
        # "No hosts remaining!" and fail-percent stops: every failed host already has its
        # own error recorded; anything else is a run-wide error reported on each host.
        if not any(errors.by_host.values()):
            for host in inventory:
                errors.by_host.setdefault(host.name, []).append(str(exc))
    finally:
        state.set_stage(StateStage.Disconnect)
        disconnect_all(state)
    return {
        host.name: _host_result(state, host, mode, errors.by_host, host in converged)
        for host in inventory
    }


def _run_changing(state: State, converged: set[PyinfraHost]) -> None:
    """Execute the operations on the hosts where some operation will change something.

    pyinfra 3 evaluates every operation twice, once to prepare (facts read, changes known)
    and again to execute, reading every fact again. A host whose prepared operations all
    report no change has nothing to execute, so it is left out of the second pass: a no-op
    re-apply reads each fact once.
    """
    state.active_hosts -= converged
    try:
        run_ops(state)
    finally:
        state.active_hosts |= converged


def _no_delay(state: State) -> None:
    """Send small SSH packets at once (TCP_NODELAY) on every connected host.

    paramiko leaves Nagle's algorithm on. Every fact and operation is a short exchange of
    small packets (open a channel, exec, output, exit status, close), and with Nagle on
    each exchange waits out the peer's delayed ACK: measured on lab hosts, 48 ms per
    command with it, 6 ms without.
    """
    for host in state.activated_hosts:
        client = getattr(host.connector, "client", None)
        transport = client.get_transport() if client is not None else None
        sock = getattr(transport, "sock", None)
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _prepare(
    state: State,
    deploy: Callable[[DeployParams], Any],
    params: DeployParams,
    errors: dict[str, list[str]],
    prefetch_facts: bool,
) -> None:
    """Add the deploy's operations on every host at once (one greenlet per host, so fact
    gathering overlaps across hosts); a host whose deploy raises is failed alone."""

    def prepare_host(host: PyinfraHost) -> None:
        served = prefetch(host, state, deploy, params) if prefetch_facts else None
        with ctx_host.use(host):
            try:
                deploy(params)
            except Exception as exc:  # one host's refusal must not stop the others
                errors.setdefault(host.name, []).append(str(exc) or type(exc).__name__)
                state.ops[host] = {}
                state.active_hosts.discard(host)
                state.failed_hosts.add(host)
                return
        if served is not None:
            served.remember(params)

    with ctx_state.use(state):
        greenlets = [gevent.spawn(prepare_host, h) for h in state.inventory.get_active_hosts()]
        gevent.joinall(greenlets, raise_error=True)


def _host_result(
    state: State,
    host: PyinfraHost,
    mode: Mode,
    errors: dict[str, list[str]],
    converged: bool,
) -> HostResult:
    host_errors = list(errors.get(host.name, []))
    operations: list[OperationResult] = []
    for op_hash in state.get_op_order():  # type: ignore[no-untyped-call]
        data = state.ops.get(host, {}).get(op_hash)
        if data is None:
            continue
        meta = data.operation_meta
        name = ", ".join(sorted(state.get_op_meta(op_hash).names))
        if mode == "apply" and not converged:
            if not meta.is_complete():
                continue  # not reached: an earlier operation failed on this host
            changed = meta.did_change()
            if meta.did_error():
                tail = "\n".join(meta.stderr_lines[-5:]) or "failed"
                host_errors.append(f"{name}: {tail}")
        else:
            changed = bool(meta._maybe_is_change)
        operations.append(OperationResult(name=name, changed=changed))
    return HostResult(
        changed=sum(op.changed for op in operations),
        operations=tuple(operations),
        errors=tuple(host_errors),
        notices=notices.of(state, host.name),
    )

"""Read the facts a deploy needs in a few SSH round trips instead of one per fact.

pyinfra reads each fact with its own command over SSH, one after another: ~22 round trips
for the base layer. The runner instead learns which fact commands the deploy will run by
evaluating it in a scratch pyinfra state (no host touched; a command whose output is not
known yet answers as if it printed nothing), runs those commands on the host in one shell
script, and repeats while the answers lead the deploy to new commands (the first round
usually learns only the distribution, the second everything else). The real prepare then
finds each command's output in the cache; a command the rounds did not predict runs on the
host as before. Only the prepare stage is served from the cache: executing operations
reads fresh facts, since earlier operations change the host.

Each command still runs as pyinfra would run it (``sh -c``, the same user and sudo), and
its output is split into pyinfra's lines, so every fact parses exactly what it would have.
"""

from __future__ import annotations

import logging
import secrets
import shlex
from collections.abc import Callable
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.config import Config
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State, StateStage
from pyinfra.connectors.util import CommandOutput, OutputLine
from pyinfra.context import ctx_host, ctx_state

from hosts import pyinfra_cache

log = logging.getLogger("mlsite.hosts")

MAX_ROUNDS = 2
"""Discovery rounds per host: the first learns the distribution, the second what the deploy
reads on it. A third round would cost a full evaluation of the deploy to batch the one or two
commands that depend on earlier answers; they run live instead, at the same one round trip."""

pyinfra_cache.install()

Result = tuple[bool, CommandOutput]


def _raw(command: Any) -> str | None:
    """The shell text of a fact command (pyinfra passes a str or a StringCommand)."""
    if isinstance(command, str):
        return command
    return command.get_raw_value() if isinstance(command, StringCommand) else None


def discover(
    name: str,
    data: dict[str, Any],
    deploy: Callable[[Any], Any],
    params: Any,
    known: dict[str, Result],
) -> list[str]:
    """Fact commands ``deploy(params)`` runs on host ``name`` that ``known`` lacks, in order.

    The deploy runs in a scratch state: its operations are thrown away, and a refusal (an
    exception) only ends the round early."""
    state = State(Inventory(([(name, data)], {})), Config())  # type: ignore[no-untyped-call]
    host = state.inventory.get_host(name)
    state.activate_host(host)
    state.set_stage(StateStage.Prepare)
    host.connected = True  # nothing is ever sent: every command is answered below
    wanted: list[str] = []

    def answer(command: Any, *_: Any, **__: Any) -> Result:
        raw = _raw(command)
        if raw is not None and raw in known:
            return known[raw]
        if raw is not None and raw not in wanted:
            wanted.append(raw)
        return True, CommandOutput([])

    host.run_shell_command = answer  # type: ignore[method-assign]
    with ctx_state.use(state), ctx_host.use(host):
        try:
            deploy(params)
        except Exception as exc:
            log.debug("prefetch round on %s ended early: %s", name, exc)
    return wanted


def batch_script(commands: list[str], token: str) -> str:
    """One ``sh`` script running ``commands`` in order, each in a subshell with stdin from
    /dev/null, framing its stdout, exit status and (when it failed) stderr.

    A subshell of the script's ``sh`` runs a command as ``sh -c`` would (its own variables,
    ``exit`` ends only it) without starting another shell for each fact. Each command is
    parsed alone (``eval`` of its quoted text), so one that does not parse fails only its
    own frame."""
    lines = ["__mlsite_t=$(mktemp -d) || exit 1; trap 'rm -rf \"$__mlsite_t\"' EXIT"]
    for i, command in enumerate(commands):
        lines.append(
            f'echo "{token} {i}"; (eval {shlex.quote(command)}) </dev/null 2>"$__mlsite_t/e"; '
            f'__mlsite_s=$?; echo; echo "{token} {i} $__mlsite_s"; '
            f'[ "$__mlsite_s" = 0 ] || sed "s/^/E/" "$__mlsite_t/e"'
        )
    return "\n".join(lines)


def parse_batch(lines: list[str], token: str, count: int) -> dict[int, Result]:
    """Each command's (status, output) from the script's stdout lines.

    A command whose frame is incomplete (the script died) is left out: it runs live."""
    frames: dict[int, tuple[bool, list[str], list[str]]] = {}
    current: int | None = None
    last: int | None = None
    out: list[str] = []
    for line in lines:
        if line.startswith(token + " "):
            parts = line[len(token) + 1 :].split(" ")
            if len(parts) == 1:
                current, last, out = int(parts[0]), None, []
            elif len(parts) == 2 and current == int(parts[0]):
                if out and out[-1] == "":
                    out.pop()  # the script's own newline before the end marker
                frames[current] = (parts[1] == "0", out, [])
                current, last = None, current
        elif current is not None:
            out.append(line)
        elif last is not None and line.startswith("E"):
            frames[last][2].append(line[1:])  # stderr of a failed command
    return {i: (ok, _output(o, e)) for i, (ok, o, e) in frames.items() if i < count}


def _output(stdout: list[str], stderr: list[str]) -> CommandOutput:
    return CommandOutput(
        [OutputLine("stdout", line) for line in stdout]
        + [OutputLine("stderr", line) for line in stderr]
    )


def fetch(host: Host, commands: list[str]) -> dict[str, Result]:
    """Run ``commands`` on ``host`` in one SSH command; raw command -> (status, output)."""
    if not commands:
        return {}
    token = f"@@mlsite-fact-{secrets.token_hex(6)}"
    try:
        status, output = host.run_shell_command(StringCommand(batch_script(commands, token)))
    except Exception as exc:  # SSH trouble: each fact is then read alone
        log.debug("prefetch on %s failed (%s); its facts are read one by one", host.name, exc)
        return {}
    if not status:
        log.debug("prefetch on %s failed; its facts are read one by one", host.name)
        return {}
    parsed = parse_batch(output.stdout_lines, token, len(commands))
    return {commands[i]: result for i, result in parsed.items()}


def serve_from(host: Host, state: State, cache: dict[str, Result]) -> None:
    """Answer ``host``'s fact commands from ``cache`` while ``state`` prepares."""
    live = host.run_shell_command

    def run_shell_command(command: Any, *args: Any, **kwargs: Any) -> Result:
        raw = _raw(command)
        if state.current_stage == StateStage.Prepare and raw is not None and raw in cache:
            return cache[raw]
        return live(command, *args, **kwargs)

    host.run_shell_command = run_shell_command  # type: ignore[method-assign]


def prefetch(
    host: Host, state: State, deploy: Callable[[Any], Any], params: Any
) -> dict[str, Result]:
    """Learn and read ``host``'s facts for ``deploy(params)``; then serve them to ``state``."""
    cache: dict[str, Result] = {}
    data: dict[str, Any] = host.data.dict()  # type: ignore[no-untyped-call]
    for _ in range(MAX_ROUNDS):
        wanted = discover(host.name, data, deploy, params, cache)
        if not wanted:
            break
        cache.update(fetch(host, wanted))
    serve_from(host, state, cache)
    return cache

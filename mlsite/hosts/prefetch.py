"""Read the facts a deploy needs in a few SSH round trips instead of one per fact.

pyinfra reads each fact with its own command over SSH, one after another: ~22 round trips
for the base layer. The runner instead learns which fact commands the deploy will run by
evaluating it in a scratch pyinfra state (no host touched; a command whose output is not
known yet answers as if it printed nothing), runs those commands on the host in one shell
script, and repeats while the answers lead the deploy to new commands (the first round
usually learns only the distribution, the second everything else). The real prepare then
finds each command's output in the cache; a command the rounds did not predict runs on the
host as before.

The commands a host's prepare asked for are remembered (a fact plan, one small file per
host, deploy and parameters, in an owner-only directory; commands holding a secret are left
out). The next run with the same deploy and parameters reads that list in one batch and
skips the discovery rounds: each of its answers is still read from the host in that run,
only the list of what to read is reused. A command the plan lacks runs live and joins it. Only the prepare stage is served from the cache: executing operations
reads fresh facts, since earlier operations change the host.

Each command still runs as pyinfra would run it (``sh -c``, the same user and sudo), and
its output is split into pyinfra's lines, so every fact parses exactly what it would have.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from pyinfra.api.command import StringCommand
from pyinfra.api.config import Config
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State, StateStage
from pyinfra.connectors.util import CommandOutput, OutputLine
from pyinfra.context import ctx_host, ctx_state

from mlsite.hosts import early, facts_together, openssh, pyinfra_cache
from mlsite.hosts.params import DeployParams, dump_params, secret_values

log = logging.getLogger("mlsite.hosts")

MAX_ROUNDS = 2
"""Discovery rounds per host: the first learns the distribution, the second what the deploy
reads on it. A third round would cost a full evaluation of the deploy to batch the one or two
commands that depend on earlier answers; they run live instead, at the same one round trip."""

PLANS_ENV = early.PLANS_ENV
plans_dir = early.plans_dir
PLAN_FORMAT = early.FORMAT

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


@dataclass(frozen=True)
class _Together:
    """Commands of one combinable fact (``mlsite.hosts.facts_together.COMBINABLE``) read as one snippet."""

    fact: type[facts_together.Combinable]
    members: tuple[int, ...]
    """Their indexes in the batch."""
    args: tuple[str, ...]


def _units(commands: list[str]) -> list[int | _Together]:
    """What the batch runs: a command alone (its index), or two or more commands of one
    combinable fact together. A pure function of ``commands``: the script and its parser
    (possibly in a later process, replaying a saved batch) agree on it."""
    alone: list[int | _Together] = []
    grouped: dict[type[facts_together.Combinable], list[tuple[int, str]]] = {}
    for i, command in enumerate(commands):
        for fact in facts_together.COMBINABLE:
            arg = fact.argument(command)
            if arg is not None:
                grouped.setdefault(fact, []).append((i, arg))
                break
        else:
            alone.append(i)
    for fact, found in grouped.items():
        if len(found) == 1:
            alone.append(found[0][0])
        else:
            members, args = zip(*found, strict=True)
            alone.append(_Together(fact, members, args))
    return alone


def batch_script(commands: list[str], token: str) -> str:
    """One ``sh`` script running ``commands``, each in a subshell with stdin from
    /dev/null, framing its stdout, stderr and exit status.

    A subshell of the script's ``sh`` runs a command as ``sh -c`` would (its own variables,
    ``exit`` ends only it) without starting another shell for each fact. Each command is
    parsed alone (``eval`` of its quoted text), so one that does not parse fails only its
    own frame. Commands of a combinable fact run as one snippet in a frame of their own
    (``g`` and the index of its first member). Every frame is marked on both streams, so
    the script needs no file on the host and starts no process of its own."""
    lines = []
    for unit in _units(commands):
        if isinstance(unit, _Together):
            frame, body = f"g{unit.members[0]}", f"({unit.fact.together(unit.args)}\n)"
        else:
            frame, body = str(unit), f"(eval {shlex.quote(commands[unit])})"
        lines.append(
            f'echo "{token} {frame}"; echo "{token} {frame}" >&2; {body} </dev/null; '
            f'__mlsite_s=$?; echo; echo >&2; echo "{token} {frame} $__mlsite_s"; '
            f'echo "{token} {frame} $__mlsite_s" >&2'
        )
    return "\n".join(lines)


def _frames(lines: list[str], token: str) -> dict[str, tuple[str, list[str]]]:
    """Complete frames of one stream: frame -> (exit status, lines)."""
    frames: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    out: list[str] = []
    for line in lines:
        if line.startswith(token + " "):
            parts = line[len(token) + 1 :].split(" ")
            if len(parts) == 1:
                current, out = parts[0], []
            elif len(parts) == 2 and current == parts[0]:
                if out and out[-1] == "":
                    out.pop()  # the script's own newline before the end marker
                frames[current] = (parts[1], out)
                current = None
        elif current is not None:
            out.append(line)
    return frames


def parse_batch(
    lines: list[str], token: str, commands: list[str], stderr: list[str] | None = None
) -> dict[int, Result]:
    """Each command's (status, output) from the script's stdout (and stderr) lines.

    A command whose frame is incomplete (the script died), or whose combined frame failed
    or could not answer for it, is left out: it runs live. The stderr of a command that
    failed is kept, as pyinfra keeps it."""
    together = {f"g{u.members[0]}": u for u in _units(commands) if isinstance(u, _Together)}
    errors = _frames(stderr or [], token)
    results: dict[int, Result] = {}
    for frame, (status, stdout) in _frames(lines, token).items():
        ok = status == "0"
        unit = together.get(frame)
        if unit is not None:
            if ok:
                answers = unit.fact.split(unit.args, stdout)
                for i, answer in zip(unit.members, answers, strict=True):
                    if answer is not None:
                        results[i] = (True, _output(answer, []))
        elif frame.isdigit() and int(frame) < len(commands):
            failed = [] if ok else errors.get(frame, ("", []))[1]
            results[int(frame)] = (ok, _output(stdout, failed))
    return results


def _output(stdout: list[str], stderr: list[str]) -> CommandOutput:
    return CommandOutput(
        [OutputLine("stdout", line) for line in stdout]
        + [OutputLine("stderr", line) for line in stderr]
    )


def fetch(host: Host, commands: list[str]) -> dict[str, Result]:
    """Run ``commands`` on ``host`` in one SSH command; raw command -> (status, output)."""
    return fetch_batch(host, commands)[0]


def fetch_batch(host: Host, commands: list[str]) -> tuple[dict[str, Result], early.Saved | None]:
    """``fetch``, and the batch as sent (ssh command line, script, token) when the
    connector reports it, for ``mlsite.hosts.early`` to replay next time."""
    if not commands:
        return {}, None
    token = f"@@mlsite-fact-{secrets.token_hex(6)}"
    try:
        status, output = host.run_shell_command(StringCommand(batch_script(commands, token)))
    except Exception as exc:  # SSH trouble: each fact is then read alone
        log.debug("prefetch on %s failed (%s); its facts are read one by one", host.name, exc)
        return {}, None
    if not status:
        log.debug("prefetch on %s failed; its facts are read one by one", host.name)
        return {}, None
    parsed = parse_batch(output.stdout_lines, token, commands, output.stderr_lines)
    sent = getattr(getattr(host, "connector", None), "last_sent", None)
    batch = early.Saved(list(commands), token, *sent) if sent else None
    return {commands[i]: result for i, result in parsed.items()}, batch


def replayed(host: Host, replay: early.Replay) -> dict[str, Result]:
    """The answers of a batch ``mlsite.hosts.early`` sent when the runner started (empty when it
    failed or did not answer in time: the facts are then read as usual)."""
    if not replay.wait(gevent.sleep) or replay.result is None:
        return {}
    status, out, err = replay.result
    if status != 0:
        log.debug("replayed fact batch on %s exited %s", host.name, status)
        return {}
    lines = [line.line for line in openssh.lines_of(out, "stdout")]
    errors = [line.line for line in openssh.lines_of(err, "stderr")]
    commands = replay.saved.commands
    parsed = parse_batch(lines, replay.saved.token, commands, errors)
    return {commands[i]: result for i, result in parsed.items()}


@dataclass
class Prefetched:
    """What a host's prepare is served from, and the commands it asked for."""

    cache: dict[str, Result]
    plan: Path | None = None
    remembered: list[str] | None = None
    asked: list[str] = field(default_factory=list)
    request_plan: Path | None = None
    """The host's plan under the runner request (``mlsite.hosts.early``); None outside a runner."""
    request_saved: early.Saved | None = None
    """What that plan held at the start."""
    batch: early.Saved | None = None
    """The one batch that answered this prepare, as sent (None: several, or none)."""

    def remember(self, params: DeployParams) -> None:
        """Keep the commands this prepare asked for as the host's fact plan (those holding a
        secret of ``params`` left out); nothing is written when the plan is unchanged.
        Under a runner request, also keep the batch for ``mlsite.hosts.early`` to replay, when one
        batch asked exactly those commands and carries no secret."""
        hidden = secret_values(params)
        commands = [c for c in self.asked if not any(h in c for h in hidden)]
        if self.request_plan is not None:
            saved = early.Saved(commands)
            batch = self.batch
            if (
                batch is not None
                and batch.commands == commands
                and not any(h in batch.stdin or h in " ".join(batch.argv) for h in hidden)
            ):
                saved = batch
            if saved != self.request_saved:
                early.save(self.request_plan, saved)
        if self.plan is not None and commands != self.remembered:
            early.save(self.plan, early.Saved(commands))


def plan_path(name: str, data: dict[str, Any], deploy: Any, params: DeployParams) -> Path | None:
    """The fact plan file of host ``name`` (its connection data) for ``deploy(params)``."""
    directory = plans_dir()
    if directory is None:
        return None
    what = getattr(deploy, "__module__", "?") + "." + getattr(deploy, "__qualname__", "?")
    identity = [PLAN_FORMAT, what, name, data, dump_params(params)]
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    return directory / f"{key.hexdigest()[:32]}.json"


def _load_plan(path: Path | None) -> list[str] | None:
    """The commands of the fact plan at ``path`` (None: no plan, or not one we can read)."""
    saved = early.load(path) if path is not None else None
    return saved.commands if saved is not None else None


def serve_from(host: Host, state: State, served: Prefetched) -> None:
    """Answer ``host``'s fact commands from ``served.cache`` while ``state`` prepares, and
    note in ``served.asked`` every command the prepare runs (answered or live)."""
    live = host.run_shell_command
    cache, asked = served.cache, served.asked

    def run_shell_command(command: Any, *args: Any, **kwargs: Any) -> Result:
        raw = _raw(command)
        if state.current_stage == StateStage.Prepare and raw is not None:
            if raw not in asked:
                asked.append(raw)
            if raw in cache:
                return cache[raw]
        return live(command, *args, **kwargs)

    host.run_shell_command = run_shell_command  # type: ignore[method-assign]


def prefetch(host: Host, state: State, deploy: Callable[[Any], Any], params: Any) -> Prefetched:
    """Learn and read ``host``'s facts for ``deploy(params)``; then serve them to ``state``.

    With a fact plan from an earlier run, its commands are read in one batch and nothing is
    discovered; call ``remember`` on the result once the prepare has finished."""
    data: dict[str, Any] = host.data.dict()  # type: ignore[no-untyped-call]
    path = plan_path(host.name, data, deploy, params)
    remembered = _load_plan(path)
    served = Prefetched(cache={}, plan=path, remembered=remembered)
    served.request_plan = early.STARTED.files.get(host.name)
    if served.request_plan is not None:
        served.request_saved = early.load(served.request_plan)
    replay = early.STARTED.replays.pop(host.name, None)
    if replay is not None:
        served.cache.update(replayed(host, replay))
        if served.cache:
            served.batch = replay.saved
    if served.cache:
        pass  # answered by the batch sent at start
    elif remembered:
        answers, served.batch = fetch_batch(host, remembered)
        served.cache.update(answers)
    else:
        rounds = 0
        for _ in range(MAX_ROUNDS):
            wanted = discover(host.name, data, deploy, params, served.cache)
            if not wanted:
                break
            answers, served.batch = fetch_batch(host, wanted)
            served.cache.update(answers)
            rounds += 1
        if rounds > 1:
            served.batch = None  # no single batch asked for everything
    serve_from(host, state, served)
    return served

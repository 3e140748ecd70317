"""The runner contract, both sides of the process boundary: what is asked, what comes back.

``python -m mlsite.hosts.runner`` reads ONE JSON request on stdin::

    {"mode": "apply" | "dry-run", "role": "<deploy>",
     "hosts": [{"name": str, "address": str, "port": int, "user": str,
                "key_file": str | null, "lab": bool}],
     "params": {...the deploy's parameters, secrets in plain text...}}

and writes ONE JSON result on stdout::

    {"ok": bool, "role": str, "mode": str, "elapsed_s": float,
     "hosts": {"<name>": {"changed": int, "operations": [{"name": str, "changed": bool}],
                          "errors": [str]}},
     "error": str}    # only when the request itself was refused

Exit status: 0 when every host converged, 1 when a host failed (the result still lists every
host), 2 for a bad request. Secrets travel only inside ``params`` on stdin, never on argv,
in the result or in the log. In Pulumi inputs a secret is a reference, ``{"$secret": ...}``
(``SECRET_REF``), resolved just before the request is written.

Standard library only: the engine's provider process imports this and must start fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from mlsite import dirs

Mode = Literal["apply", "dry-run"]
MODES: tuple[Mode, ...] = ("apply", "dry-run")
EXIT_OK, EXIT_HOST_FAILED, EXIT_BAD_REQUEST = 0, 1, 2
SECRET_REF = "$secret"
"""Marks a secret reference in HostDeploy inputs: ``{"$secret": "value:<path>"}``."""
RUNNER_ENV = "MLSITE_HOST_RUNNER"
"""Replaces ``python -m mlsite.hosts.runner`` with this command line (tests use a fake)."""


class RunnerError(Exception):
    """The runner could not do its job; the message says which hosts and why."""


class BadRequest(ValueError):
    """A request the runner refuses (exit 2); the message names the field, never a value."""


@dataclass(frozen=True)
class Target:
    """How a host is reached: the one description every part of mlsite uses."""

    name: str
    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    """Private key path; None means the SSH agent's keys (or the lab's key on a lab host)."""
    lab: bool = False
    """A lab host: logs in with the lab's generated key unless ``key_file`` says otherwise."""

    def to_json(self) -> dict[str, Any]:
        """The host as a request (and a HostDeploy input) carries it; ``lab`` only when set."""
        out = asdict(self)
        if not self.lab:
            del out["lab"]
        return out

    @classmethod
    def parse(cls, data: Any, where: str) -> Target:
        """A target from request JSON; ``BadRequest`` naming the field otherwise."""
        if not isinstance(data, dict):
            raise BadRequest(f"{where}: a host must be an object")
        unknown = set(data) - {"name", "address", "port", "user", "key_file", "lab"}
        if unknown:
            raise BadRequest(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        name, address = data.get("name"), data.get("address")
        port, user, key = data.get("port", 22), data.get("user", "root"), data.get("key_file")
        if isinstance(port, float) and port.is_integer():
            port = int(port)  # Pulumi's wire carries every number as a double
        for field_name, value in (("name", name), ("address", address), ("user", user)):
            if not isinstance(value, str) or not value:
                raise BadRequest(f"{where}.{field_name}: a non-empty string is required")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise BadRequest(f"{where}.port: an integer from 1 to 65535 is required")
        if key is not None and not isinstance(key, str):
            raise BadRequest(f"{where}.key_file: a path or null is required")
        return cls(
            cast(str, name), cast(str, address), port, cast(str, user), key, bool(data.get("lab"))
        )

    def key_path(self, stack_dir: Path | None = None) -> Path | None:
        """The private key that logs in: ``key_file`` (relative to the stack files), else
        the lab's key for a lab host, else None (the SSH agent)."""
        if self.key_file:
            key = Path(self.key_file).expanduser()
            if not key.is_absolute():
                key = (stack_dir or Path.cwd() / "stacks") / key
            return key
        if self.lab:
            return dirs.lab_ssh_key()
        return None


@dataclass(frozen=True)
class RunRequest:
    """What to run: a deploy, in a mode, on hosts, with the deploy's parameters."""

    mode: Mode
    role: str
    """The deploy to apply (``mlsite.hosts.deploys``)."""
    hosts: tuple[Target, ...]
    params: dict[str, Any]

    @classmethod
    def parse(cls, data: Any) -> RunRequest:
        """A request from JSON data; ``BadRequest`` naming the first wrong field."""
        if not isinstance(data, dict):
            raise BadRequest("the request must be a JSON object")
        unknown = set(data) - {"mode", "role", "hosts", "params"}
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(sorted(unknown))}")
        mode, role, hosts, params = (data.get(k) for k in ("mode", "role", "hosts", "params"))
        if mode not in MODES:
            raise BadRequest(f"mode: one of {', '.join(MODES)} is required")
        if not isinstance(role, str) or not role:
            raise BadRequest("role: a deploy name is required")
        if not isinstance(hosts, list) or not hosts:
            raise BadRequest("hosts: a list of at least one host is required")
        if not isinstance(params, dict):
            raise BadRequest("params: an object is required")
        targets = tuple(Target.parse(h, f"hosts.{i}") for i, h in enumerate(hosts))
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise BadRequest("host names must be unique")
        return cls(cast(Mode, mode), role, targets, params)

    def to_json(self) -> dict[str, Any]:
        """The request as the runner reads it."""
        return {
            "mode": self.mode,
            "role": self.role,
            "hosts": [t.to_json() for t in self.hosts],
            "params": self.params,
        }


@dataclass(frozen=True)
class OperationResult:
    """One operation on one host."""

    name: str
    changed: bool


@dataclass(frozen=True)
class HostResult:
    """What the runner did (or would do) on one host."""

    changed: int = 0
    operations: tuple[OperationResult, ...] = ()
    errors: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    """What the deploy deliberately left alone and reports (``mlsite.hosts.notices``)."""


@dataclass(frozen=True)
class RunResult:
    """The runner's answer to one request."""

    ok: bool
    role: str
    mode: str
    elapsed_s: float
    hosts: dict[str, HostResult] = field(default_factory=dict)
    error: str | None = None
    """Why the request itself was refused (exit 2). Absent otherwise."""

    def failures(self) -> list[str]:
        """One line per failed host."""
        return [f"{n}: {'; '.join(h.errors)}" for n, h in sorted(self.hosts.items()) if h.errors]

    def to_json(self) -> dict[str, Any]:
        """JSON data as the runner prints it (lists, not tuples), ``error`` only when set."""
        out: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        if self.error is None:
            del out["error"]
        return out

    @classmethod
    def parse(cls, text: str) -> RunResult:
        """The runner's printed result; ``RunnerError`` when it is not one."""
        try:
            doc = json.loads(text)
            hosts = {
                str(name): HostResult(
                    changed=int(h["changed"]),
                    operations=tuple(
                        OperationResult(str(o["name"]), bool(o["changed"]))
                        for o in h.get("operations", [])
                    ),
                    errors=tuple(str(e) for e in h.get("errors", [])),
                    notices=tuple(str(n) for n in h.get("notices", [])),
                )
                for name, h in doc["hosts"].items()
            }
            error = doc.get("error")
            return cls(
                ok=bool(doc["ok"]),
                role=str(doc["role"]),
                mode=str(doc["mode"]),
                elapsed_s=float(doc["elapsed_s"]),
                hosts=hosts,
                error=str(error) if error is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            head = text.strip().splitlines()[:1]
            raise RunnerError(
                f"the host runner did not print a JSON result ({exc!r}; output began {head!r})"
            ) from None


def runner_command() -> list[str]:
    """``$MLSITE_HOST_RUNNER``, else this Python's ``-m mlsite.hosts.runner``."""
    override = os.environ.get(RUNNER_ENV)
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "mlsite.hosts.runner"]


def lock_dir() -> Path:
    """Where the per-host locks live: ``$MLSITE_HOST_LOCKS``, else the cache's host-locks."""
    explicit = os.environ.get("MLSITE_HOST_LOCKS")
    return Path(explicit) if explicit else dirs.cache_home() / "mlsite" / "host-locks"


@contextlib.contextmanager
def host_locks(request: dict[str, Any]) -> Iterator[None]:
    """Hold an exclusive lock per host of ``request`` (taken in sorted order, so two calls
    never wait on each other in a cycle). The engine runs independent resources at once;
    two deploys configuring one host at the same moment would fight over its package manager
    and services, so on any one host deploys run one at a time, in whatever order the engine
    starts them, while different hosts proceed in parallel."""
    keys = sorted({f"{h.get('address')}_{h.get('port', 22)}" for h in request.get("hosts", [])})
    directory = lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        for key in keys:
            f = stack.enter_context(open(directory / key.replace("/", "_"), "a+b"))
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield


def call_runner(request: dict[str, Any], timeout_s: float, cwd: Path | None = None) -> RunResult:
    """Run the runner on ``request`` (holding its hosts' locks). A failed host is an error
    in ``apply`` and ``dry-run`` alike: a refresh that cannot see a host must not pass."""
    with host_locks(request):
        result, status, stderr = spawn(request, timeout_s, cwd)
    if status == EXIT_BAD_REQUEST:
        raise RunnerError(f"the host runner refused the request: {result.error or _tail(stderr)}")
    if status == EXIT_HOST_FAILED or not result.ok:
        failed = "; ".join(result.failures()) or _tail(stderr)
        raise RunnerError(f"role {result.role} ({result.mode}) failed on: {failed}")
    return result


def spawn(
    request: dict[str, Any], timeout_s: float, cwd: Path | None = None
) -> tuple[RunResult, int, str]:
    """Run the runner process once: its parsed result, exit status and stderr. Raises
    ``RunnerError`` only when no result came back."""
    cwd = cwd or Path.cwd()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run(
            runner_command(),
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=cwd,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RunnerError(
            f"role {request.get('role')}: the host runner took longer than {timeout_s:.0f} s"
        ) from None
    except OSError as exc:
        raise RunnerError(f"cannot start the host runner {runner_command()!r}: {exc}") from None
    if proc.returncode not in (EXIT_OK, EXIT_HOST_FAILED, EXIT_BAD_REQUEST):
        raise RunnerError(f"the host runner exited {proc.returncode}: {_tail(proc.stderr)}")
    return RunResult.parse(proc.stdout), proc.returncode, proc.stderr


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"

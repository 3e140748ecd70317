"""Apply or dry-run one deploy on hosts, in a process of its own.

``python -m mlsite.hosts.runner`` reads one request on stdin and writes one result on
stdout; the format, the exit status and how secrets travel are ``mlsite.hosts.contract``.
Every plain secret value is replaced by ``[secret]`` in the result and in the log (stderr).

``run(request)`` spawns that process (tests and benchmarks; the Pulumi layer calls
``contract.call_runner``: pyinfra must not run in the provider's worker threads).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlsite.hosts import early
from mlsite.hosts.contract import (
    EXIT_BAD_REQUEST,
    EXIT_HOST_FAILED,
    EXIT_OK,
    BadRequest,
    RunRequest,
    RunResult,
    spawn,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

DEFAULT_TIMEOUT_S = 3600.0


class _Redact(logging.Filter):
    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        from mlsite.hosts.params import redact

        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        return True


def _bad(message: str, data: Any, started: float) -> tuple[RunResult, int]:
    role = data.get("role") if isinstance(data, dict) else None
    mode = data.get("mode") if isinstance(data, dict) else None
    result = RunResult(
        ok=False,
        role=role if isinstance(role, str) else "",
        mode=mode if isinstance(mode, str) else "",
        elapsed_s=round(time.monotonic() - started, 3),
        hosts={},
        error=message,
    )
    return result, EXIT_BAD_REQUEST


def handle(text: str) -> tuple[RunResult, int]:
    """Parse and run one request; the result and the exit status."""
    from pydantic import ValidationError

    from mlsite.hosts.deploys import get as get_deploy
    from mlsite.hosts.execute import execute, target_inventory
    from mlsite.hosts.params import redact, secret_values

    started = time.monotonic()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return _bad(f"request is not JSON: {exc.msg} at line {exc.lineno}", None, started)
    try:
        request = RunRequest.parse(data)
    except BadRequest as exc:
        return _bad(f"bad request: {exc}", data, started)
    try:
        role = get_deploy(request.role)
    except KeyError as exc:
        return _bad(str(exc), data, started)
    try:
        params = role.params_model.model_validate(request.params)
    except ValidationError as exc:
        return _bad(f"bad params for role {role.name}: {_errors(exc)}", data, started)

    secrets = secret_values(params)
    redacting = _Redact(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)
    hosts = execute(
        target_inventory(request.hosts),
        role.function(),
        params,
        request.mode,
        prefetch_facts=role.batch_facts,
    )
    hosts = {
        name: replace(
            result,
            errors=tuple(redact(e, secrets) for e in result.errors),
            notices=tuple(redact(n, secrets) for n in result.notices),
        )
        for name, result in hosts.items()
    }
    ok = not any(result.errors for result in hosts.values())
    result = RunResult(
        ok=ok,
        role=role.name,
        mode=request.mode,
        elapsed_s=round(time.monotonic() - started, 3),
        hosts=hosts,
    )
    return result, EXIT_OK if ok else EXIT_HOST_FAILED


def _errors(exc: ValidationError) -> str:
    # input values are left out: params may hold secrets
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
    )


def main() -> int:
    """The ``python -m mlsite.hosts.runner`` entry."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    text = sys.stdin.read()
    # each host reads the facts it needed last time while pyinfra is being imported
    with contextlib.suppress(ValueError):
        early.start(json.loads(text))
    out = sys.stdout
    # pyinfra and paramiko may print; stdout carries only the result.
    with contextlib.redirect_stdout(sys.stderr):
        result, status = handle(text)
    out.write(json.dumps(result.to_json()) + "\n")
    out.flush()
    return status


def run(request: dict[str, Any], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Run ``request`` in a ``python -m mlsite.hosts.runner`` subprocess; its JSON result.

    Raises RunnerError when the process dies without a result (its stderr tail, which never
    holds secrets, is in the message)."""
    result, _, _ = spawn(request, timeout_s, cwd=Path(__file__).resolve().parents[2])
    return result.to_json()


if __name__ == "__main__":
    sys.exit(main())

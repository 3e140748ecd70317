"""mlsite.hosts.early: remembered fact batches replayed when the runner starts."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from mlsite.hosts import early, prefetch
from mlsite.hosts.params import DeployParams, SecretText


@pytest.fixture
def plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "plans"
    monkeypatch.setenv(early.PLANS_ENV, str(directory))
    monkeypatch.setattr(early, "STARTED", early.Started())
    return directory


def _request(**changes: Any) -> dict[str, Any]:
    request = {
        "mode": "apply",
        "role": "base",
        "hosts": [{"name": "h1", "address": "10.0.0.1", "port": 22, "user": "root"}],
        "params": {"timezone": "UTC", "password": "s3cret-canary"},
    }
    return {**request, **changes}


def test_plan_files_are_keyed_by_role_host_parameters_and_ssh_environment(
    plans: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans.mkdir(mode=0o700)
    r = _request()
    target = r["hosts"][0]
    first = early.plan_file(plans, "base", target, r["params"])
    assert first == early.plan_file(plans, "base", target, r["params"])
    assert first != early.plan_file(plans, "network", target, r["params"])
    assert first != early.plan_file(plans, "base", {**target, "port": 2222}, r["params"])
    assert first != early.plan_file(plans, "base", target, {**r["params"], "timezone": "X"})
    monkeypatch.setenv("MLSITE_SSH_PERSIST", "0")
    assert first != early.plan_file(plans, "base", target, r["params"])
    # named by an HMAC under a private random key: nothing of the parameters shows
    key = plans / ".request-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert "canary" not in first.name


def test_saved_plans_round_trip_and_bad_files_are_ignored(plans: Path) -> None:
    plans.mkdir(mode=0o700)
    path = plans / "r-x.json"
    saved = early.Saved(["uname -s"], "@@t", ["sh", "-c", "cat"], "script")
    early.save(path, saved)
    assert early.load(path) == saved and saved.replayable
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not early.Saved(["uname -s"]).replayable
    path.write_text("{not json")
    assert early.load(path) is None
    path.write_text(json.dumps({"format": 99, "commands": []}))
    assert early.load(path) is None


def test_start_replays_remembered_batches_and_reports_failures(plans: Path) -> None:
    request = _request(
        hosts=[
            {"name": "ok", "address": "a", "port": 22, "user": "root"},
            {"name": "fails", "address": "b", "port": 22, "user": "root"},
            {"name": "missing", "address": "c", "port": 22, "user": "root"},
            {"name": "new", "address": "d", "port": 22, "user": "root"},
        ]
    )
    plans.mkdir(mode=0o700)
    for name, argv in (
        ("ok", ["sh", "-c", "cat; echo done >&2"]),
        ("fails", ["sh", "-c", "exit 3"]),
    ):
        target = next(h for h in request["hosts"] if h["name"] == name)
        path = early.plan_file(plans, "base", target, request["params"])
        early.save(path, early.Saved(["x"], "@@t", argv, "the batch script\n" * 5000))
    target = next(h for h in request["hosts"] if h["name"] == "missing")
    path = early.plan_file(plans, "base", target, request["params"])
    early.save(path, early.Saved(["x"], "@@t", ["/nonexistent/ssh"], "x"))

    started = early.start(request)
    assert set(started.files) == {"ok", "fails", "missing", "new"}
    assert set(started.replays) == {"ok", "fails", "missing"}  # "new" has nothing to replay
    ok = started.replays["ok"]
    assert ok.wait(time.sleep, timeout_s=30)
    assert ok.result == (0, b"the batch script\n" * 5000, b"done\n")  # 85 kB through pipes
    fails = started.replays["fails"]
    assert fails.wait(time.sleep, timeout_s=30) and fails.result is not None
    assert fails.result[0] == 3
    assert not started.replays["missing"].wait(time.sleep, timeout_s=30)


def test_nothing_starts_when_plans_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(early.PLANS_ENV, "off")
    monkeypatch.setattr(early, "STARTED", early.Started())
    assert early.start(_request()) == early.Started()
    assert early.start("not a request") == early.Started()


class _Secretive(DeployParams):
    token: SecretText


def test_a_batch_is_kept_for_replay_only_when_it_asked_everything_and_holds_no_secret(
    plans: Path,
) -> None:
    plans.mkdir(mode=0o700)
    path = plans / "r-h1.json"
    params = _Secretive(token=SecretStr("s3cret-value"))
    batch = early.Saved(["uname -s", "cat /etc/group"], "@@t", ["ssh", "h1"], "script")

    def remember(asked: list[str], sent: early.Saved | None) -> early.Saved | None:
        served = prefetch.Prefetched(cache={}, request_plan=path, batch=sent)
        served.asked += asked
        served.remember(params)
        return early.load(path)

    assert remember(["uname -s", "cat /etc/group"], batch) == batch
    # a command ran live besides the batch: the list grows, the batch is not replayable
    grown = remember(["uname -s", "cat /etc/group", "uname -r"], batch)
    assert grown == early.Saved(["uname -s", "cat /etc/group", "uname -r"])
    leaky = early.Saved(batch.commands, "@@t", ["ssh", "h1"], "echo s3cret-value")
    assert remember(["uname -s", "cat /etc/group"], leaky) == early.Saved(batch.commands)
    assert "s3cret" not in path.read_text()


def test_prefetch_serves_the_replayed_answers_without_sending_anything(
    plans: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyinfra.api.state import StateStage

    from mlsite.hosts.deploys import base
    from mlsite.hosts.deploys.base import apply as base_apply

    commands = ["uname -s", "echo two lines; echo second"]
    token = "@@mlsite-fact-test"
    script = prefetch.batch_script(commands, token)
    replay = early.Replay(early.Saved(commands, token, ["sh"], script))
    early.STARTED.replays["h1"] = replay
    early._pump([replay])  # ran here at once instead of in the start thread
    ran: list[str] = []
    host = SimpleNamespace(
        name="h1",
        data=SimpleNamespace(dict=lambda: {}),
        run_shell_command=lambda command, *a, **k: ran.append(str(command)),
    )
    monkeypatch.setattr(prefetch, "discover", lambda *a: pytest.fail("discovery ran"))
    state = SimpleNamespace(current_stage=StateStage.Prepare)
    params = base.params_for(*_lab_site_and_hosts())
    served = prefetch.prefetch(host, state, base_apply.base, params)  # type: ignore[arg-type]
    assert ran == [] and served.batch == replay.saved
    ok, output = served.cache["echo two lines; echo second"]
    assert ok and output.stdout_lines == ["two lines", "second"]


def _lab_site_and_hosts() -> tuple[Any, Any]:
    from mlsite.spec import load_stack

    site = load_stack("lab").site
    return site, site.hosts

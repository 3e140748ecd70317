"""The runner's contract: JSON in on stdin, JSON out on stdout, exit 0/1/2, secrets hidden."""

from __future__ import annotations

import json
import subprocess
import sys

from pydantic import SecretStr

from mlsite.hosts.deploys import containerd
from mlsite.hosts.params import dump_params
from mlsite.hosts.runner import run

SECRET = "s3cr3t-pull-password"


def _request(**changes: object) -> dict[str, object]:
    params = containerd.Params(
        nvidia_runtime={"ghost": False},
        registry_endpoint="https://reg.test:5000",
        username="nodes",
        password=SecretStr(SECRET),
    )
    request: dict[str, object] = {
        "mode": "dry-run",
        "role": "containerd",
        # a TEST-NET address nobody answers on: the connection fails fast
        "hosts": [
            {"name": "ghost", "address": "127.0.0.1", "port": 1, "user": "root", "key_file": None}
        ],
        "params": dump_params(params, reveal=True),
    }
    request.update(changes)
    return request


def _raw(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlsite.hosts.runner"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_json_exits_2_with_a_json_error() -> None:
    proc = _raw("{not json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["ok"] is False


def test_unknown_role_and_bad_params_exit_2_without_echoing_values() -> None:
    proc = _raw(json.dumps(_request(role="ceph-ish")))
    assert proc.returncode == 2 and "unknown deploy" in json.loads(proc.stdout)["error"]
    bad = _request()
    bad["params"] = {**bad["params"], "username": 42}  # type: ignore[dict-item]
    proc = _raw(json.dumps(bad))
    result = json.loads(proc.stdout)
    assert (
        proc.returncode == 2
        and "params.username" not in result["error"]
        and "username" in result["error"]
    )
    assert SECRET not in proc.stdout + proc.stderr


def test_unreachable_host_exits_1_with_a_per_host_error_and_no_secret() -> None:
    proc = _raw(json.dumps(_request()))
    result = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert result["ok"] is False and result["role"] == "containerd" and result["mode"] == "dry-run"
    assert result["hosts"]["ghost"]["errors"] and result["hosts"]["ghost"]["changed"] == 0
    assert isinstance(result["elapsed_s"], float)
    assert SECRET not in proc.stdout + proc.stderr


def test_run_spawns_the_runner() -> None:
    result = run(_request(mode="bogus"))
    assert result["ok"] is False and "mode" in result["error"]

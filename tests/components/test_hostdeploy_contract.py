"""HostDeploy over gRPC, exactly as the Pulumi engine drives a dynamic provider:
Configure, Check, Create, Diff (no change), Read (drift after a manual change), Update,
Delete — against a fake runner (always) and against lab hosts (marked lab)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from mlsite.components.hosts.inputs import code_hash, file_hashes, host_entry, render_params
from mlsite.components.hosts.provider import INPUT_KEYS
from tests.components.hostdeploy_grpc import ROOT, Engine, _dict, provider_server

FAKE = f"{sys.executable} {ROOT / 'tests' / 'components' / 'fake_runner.py'}"
SECRET = "s3cret-canary-7f"


def _inputs(port: int = 5000, role: str = "registry") -> dict[str, Any]:
    return {
        "role": role,
        "group": role,
        "hosts": [
            {"name": "h1", "address": "10.0.0.1", "port": 22, "user": "root", "key_file": None}
        ],
        "params": {"port": port, "password": {"$secret": "value:password"}},
        "secrets": {"password": SECRET},
        "files": {},
        "code": "sha256:0",
    }


def _checked(eng: Engine, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
    resp = eng.check(olds, news)
    assert not resp.failures, resp.failures
    return _dict(resp.inputs)


def _requests(state: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (state / "requests.jsonl").read_text().splitlines()]


def test_engine_lifecycle_against_a_fake_runner(tmp_path: Path) -> None:
    env = {"MLSITE_HOST_RUNNER": FAKE, "FAKE_RUNNER_STATE": str(tmp_path)}
    with provider_server("lab-hosts-registry", env) as eng:
        assert (
            eng.configure({"mlsite:sshPrivateKey": "-----BEGIN FAKE KEY-----"}).acceptSecrets
            is False
        )

        news = _checked(eng, {}, _inputs())
        assert "__provider" in news
        id_, outs = eng.create(news)
        assert id_ == "registry/registry"
        assert outs["changed"] == 1 and outs["drift"] == {"h1": []}
        assert {k: outs[k] for k in INPUT_KEYS} == {k: news[k] for k in INPUT_KEYS}
        sent = _requests(tmp_path)[-1]
        assert sent["mode"] == "apply" and sent["params"]["password"] == SECRET
        key = json.loads((tmp_path / "keys.jsonl").read_text().splitlines()[-1])
        assert key["mode"] == "0o600" and key["head"].startswith("-----BEGIN FAKE")
        assert not Path(key["key_file"]).exists()  # removed after the call

        n = len(_requests(tmp_path))
        assert eng.diff(id_, outs, news).changes == provider_pb2.DiffResponse.DIFF_NONE
        assert len(_requests(tmp_path)) == n  # diff touched no host

        (tmp_path / "h1.registry").write_text("edited by hand")  # a manual change on the host
        refreshed = eng.read(id_, outs, news)
        assert refreshed["drift"] == {"h1": ["Configure registry"]}
        assert (tmp_path / "h1.registry").read_text() == "edited by hand"  # read is a dry run
        assert _requests(tmp_path)[-1]["mode"] == "dry-run"
        assert eng.diff(id_, refreshed, news).changes == provider_pb2.DiffResponse.DIFF_SOME

        news2 = _checked(eng, news, _inputs(port=5443))
        d = eng.diff(id_, refreshed, news2)
        assert d.changes == provider_pb2.DiffResponse.DIFF_SOME and list(d.replaces) == []
        outs2 = eng.update(id_, refreshed, news2)
        assert (
            outs2["changed"] == 1
            and outs2["drift"] == {"h1": []}
            and outs2["params"]["port"] == 5443
        )
        assert eng.diff(id_, outs2, news2).changes == provider_pb2.DiffResponse.DIFF_NONE

        other_role = _checked(eng, news2, _inputs(port=5443, role="nfs"))
        assert list(eng.diff(id_, outs2, other_role).replaces) == ["role"]

        before = (tmp_path / "h1.registry").read_text()
        n = len(_requests(tmp_path))
        eng.delete(id_, outs2)
        assert (tmp_path / "h1.registry").read_text() == before  # hosts left as they are
        assert len(_requests(tmp_path)) == n


def test_check_failures_and_a_failed_host_reach_the_engine(tmp_path: Path) -> None:
    env = {"MLSITE_HOST_RUNNER": FAKE, "FAKE_RUNNER_STATE": str(tmp_path)}
    with provider_server("lab-hosts-x", env) as eng:
        eng.configure({})
        bad = eng.check({}, {**_inputs(), "role": "", "hosts": []})
        assert {f.property for f in bad.failures} == {"role", "hosts"}
        broken = _inputs()
        broken["hosts"] = [{"name": "broken", "address": "10.0.0.9", "port": 22, "user": "root"}]
        with pytest.raises(grpc.RpcError) as err:
            eng.create(_checked(eng, {}, broken))
        assert "broken: cannot connect" in str(err.value.details())
        assert SECRET not in str(err.value.details())


@pytest.mark.lab
def test_engine_lifecycle_against_a_lab_host(lab: Any) -> None:
    from mlsite.hosts.deploys import get as get_deploy
    from mlsite.spec import load_stack

    site = load_stack("lab").site
    host = site.host("lab-1")
    role = get_deploy("base")
    rendered = render_params(role.params_for(site, (host,)))
    entry = {**host_entry(host), "key_file": str(lab.ssh_key)}
    inputs = {
        "role": "base",
        "group": "base",
        "hosts": [entry],
        "params": rendered.params,
        "files": file_hashes("base"),
        "code": code_hash("base"),
    }
    with provider_server("lab-hosts-base") as eng:
        eng.configure({})
        news = _checked(eng, {}, inputs)
        id_, outs = eng.create(news)
        assert outs["results"]["lab-1"]["errors"] == []
        assert eng.diff(id_, outs, news).changes == provider_pb2.DiffResponse.DIFF_NONE

        # tamper with the block mlsite manages (the lab's own lines above it are not ours)
        lab.run(
            "lab-1", r"sed -i 's/lab-2\.lab\.mlsite\.test/tampered.lab.mlsite.test/' /etc/hosts"
        )
        refreshed = eng.read(id_, outs, news)
        # pyinfra names operations "<deploy> | <operation>"
        drift = [name.split(" | ", 1)[-1] for name in refreshed["drift"]["lab-1"]]
        assert "List the site's hosts in /etc/hosts" in drift
        assert "tampered" in lab.run("lab-1", "cat /etc/hosts").stdout  # read changed nothing
        assert eng.diff(id_, refreshed, news).changes == provider_pb2.DiffResponse.DIFF_SOME

        outs2 = eng.update(id_, refreshed, news)
        assert outs2["changed"] >= 1 and outs2["drift"] == {"lab-1": []}
        assert "tampered" not in lab.run("lab-1", "cat /etc/hosts").stdout
        again = eng.read(id_, outs2, news)
        assert again["drift"] == {"lab-1": []}

        eng.delete(id_, outs2)
        assert "lab-1.lab.mlsite.test" in lab.run("lab-1", "cat /etc/hosts").stdout  # left as is

"""containerd and the monitoring agent at operation level."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from mlsite.hosts.deploys import containerd, monitoring_agent
from mlsite.hosts.deploys.containerd import apply as containerd_apply
from mlsite.hosts.deploys.monitoring_agent import apply as monitoring_agent_apply
from mlsite.hosts.params import dump_params, secret_values
from tests.hosts.fakehost import DEBIAN_12, plan

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def _params(gpu: bool) -> containerd.Params:
    return containerd.Params(
        nvidia_runtime={"h1": gpu},
        registry_endpoint="https://reg.site.test:5000",
        mirrors=(containerd.Mirror(upstream="docker.io", endpoint="https://reg.site.test:5001"),),
        username="nodes",
        password=SecretStr("pull-pass-123"),
        ca_pem=PEM,
    )


def test_gpu_host_gets_the_nvidia_runtime_and_registry_with_credentials() -> None:
    p = plan(containerd_apply.containerd, _params(True), {"OsRelease": DEBIAN_12})
    config = p.upload("/etc/containerd/config.toml")
    assert 'default_runtime_name = "nvidia"' in config and "nvidia-container-runtime" in config
    hosts_toml = p.upload("/etc/containerd/certs.d/reg.site.test:5000/hosts.toml")
    assert 'ca = "/usr/local/share/ca-certificates/mlsite-site-ca.crt"' in hosts_toml
    assert 'Authorization = "Basic bm9kZXM6cHVsbC1wYXNzLTEyMw=="' in hosts_toml
    assert "reg.site.test:5001" in p.upload("/etc/containerd/certs.d/docker.io/hosts.toml")
    assert "update-ca-certificates" in p.all_commands
    assert "pull-pass-123" not in p.all_commands  # only inside uploaded files


def test_cpu_host_keeps_runc() -> None:
    p = plan(containerd_apply.containerd, _params(False), {"OsRelease": DEBIAN_12})
    assert 'default_runtime_name = "runc"' in p.upload("/etc/containerd/config.toml")


def test_secrets_are_masked_unless_revealed() -> None:
    params = _params(False)
    assert dump_params(params)["password"] == "[secret]"
    assert dump_params(params, reveal=True)["password"] == "pull-pass-123"
    assert "pull-pass-123" not in repr(params)
    assert secret_values(params) == {"pull-pass-123"}
    assert containerd.Params.model_validate(dump_params(params, reveal=True)) == params


def test_gpu_exporter_only_on_gpu_hosts() -> None:
    params = monitoring_agent.Params(
        gpu_exporter={"h1": True, "h2": False}, dcgm_exporter_image="img:1"
    )
    gpu_plan = plan(monitoring_agent_apply.monitoring_agent, params, {"OsRelease": DEBIAN_12}, "h1")
    assert "ctr run" in gpu_plan.upload(monitoring_agent.DCGM_UNIT)
    cpu_plan = plan(monitoring_agent_apply.monitoring_agent, params, {"OsRelease": DEBIAN_12}, "h2")
    assert not cpu_plan.has("monitoring_agent | Install the DCGM")
    assert "prometheus-node-exporter" in cpu_plan.all_commands


def test_site_secrets_inside_params_are_found_for_redaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlsite.spec import Secret

    monkeypatch.setenv("REG_PW", "env-pass-456")
    carried = {
        "user": "ci",
        "password": Secret(env="REG_PW"),
        "unset": Secret(env="NOT_SET_ANYWHERE"),
    }
    assert secret_values(carried) == {"env-pass-456"}
    runtime = Secret.model_validate("runtime-pass-789", context={"plaintext_secrets": True})
    assert secret_values([runtime]) == {"runtime-pass-789"}


def test_docker_hub_cache_is_found_where_containerd_looks_for_docker_io(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """akiba caches Docker Hub at its API host (https://registry-1.docker.io); containerd
    resolves docker.io/... images through certs.d/docker.io, so that is where it goes."""
    from mlsite.spec import load_stack

    monkeypatch.setattr("mlsite.spec.Secret.reveal", lambda self: "pw", raising=True)
    site = load_stack("akiba").site
    params = containerd.params_for(site, site.hosts).model_copy(update={"ca_pem": PEM})
    assert [m.upstream for m in params.mirrors] == ["docker.io", "nvcr.io"]
    p = plan(
        containerd_apply.containerd, params, {"OsRelease": DEBIAN_12}, host_name=site.hosts[0].name
    )
    hub = p.upload("/etc/containerd/certs.d/docker.io/hosts.toml")
    assert 'server = "https://docker.io"' in hub and ":5001" in hub
    assert not any("registry-1.docker.io/hosts.toml" in o.name for o in p.ops)

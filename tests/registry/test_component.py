"""The Registry component under Pulumi's mock runtime: children, protection, secrets."""

from __future__ import annotations

import pytest
from pulumi.runtime import rpc

from mlsite import pki
from mlsite.components.ca import SiteCaProvider
from mlsite.components.registry import Registry
from mlsite.plan.run import run_program
from mlsite.spec import load_stack


@pytest.fixture(autouse=True)
def _passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSITE_LAB_REGISTRY_PUSH_PASSWORD", "push-canary-1")
    monkeypatch.setenv("MLSITE_LAB_REGISTRY_PULL_PASSWORD", "pull-canary-2")


def test_registry_deploys_on_registry_hosts_with_a_protected_generated_ca() -> None:
    from mlsite.components import Hosts, HostsArgs, RegistryArgs

    site = load_stack("lab").site

    def program() -> None:
        Registry("lab-registry", RegistryArgs(Hosts("lab-hosts", HostsArgs(site))))

    regs = run_program(program, project="mlsite", stack="t", config={})
    by_name = {r.name: r for r in regs}
    component = by_name["lab-registry"]
    assert component.type == "mlsite:registry:Registry"
    # the CA belongs to the host layer (every host trusts it); the registry signs with it
    ca, deploy = by_name["lab-hosts-ca"], by_name["lab-registry-hosts"]
    assert ca.parent == by_name["lab-hosts"].urn and deploy.parent == component.urn
    assert ca.protect and deploy.protect
    assert "key_pem" in ca.secret_outputs
    assert [h["name"] for h in deploy.inputs["hosts"]] == ["lab-3"]
    params = deploy.inputs["params"]
    assert not rpc.is_rpc_secret(params)
    assert params["port"] == 5000 and params["push_port"] == 5001
    assert params["tls"]["ca_key"] == {"$secret": "value:tls.ca_key"}
    assert params["users"][0]["password"] == {"$secret": "env:MLSITE_LAB_REGISTRY_PUSH_PASSWORD"}
    assert "canary" not in repr(params)
    assert rpc.is_rpc_secret(deploy.inputs["secrets"])


def test_site_ca_provider_generates_once_and_replaces_on_change() -> None:
    provider = SiteCaProvider()
    created = provider.create({"common_name": "lab site CA", "validity_days": 365})
    outs = created.outs
    assert outs is not None
    cert = pki.load_certificate(outs["cert_pem"])
    assert cert.subject.rfc4514_string() == "CN=lab site CA"
    server = pki.issue_server(outs["cert_pem"], outs["key_pem"], ["lab-3"], ["10.77.0.13"])
    assert pki.load_certificate(server.cert_pem).issuer == cert.subject
    same = provider.diff("x", outs, {"common_name": "lab site CA", "validity_days": 365})
    assert not same.changes
    other = provider.diff("x", outs, {"common_name": "other", "validity_days": 365})
    assert other.replaces == ["common_name"]


def test_registry_runs_after_the_base_layer_of_its_hosts() -> None:
    from mlsite.components import Hosts, HostsArgs, RegistryArgs

    site = load_stack("lab").site

    def program() -> None:
        Registry("lab-registry", RegistryArgs(Hosts("lab-hosts", HostsArgs(site))))

    regs = run_program(program, project="mlsite", stack="t", config={})
    base = {r.urn for r in regs if r.type.endswith("HostDeploy") and r.inputs.get("role") == "base"}
    (deploy,) = [r for r in regs if r.name == "lab-registry-hosts"]
    assert base and base <= set(deploy.depends_on)

"""Pull-through cache instances the site no longer describes, at operation level: stopped,
disabled and unconfigured; their storage kept."""

from __future__ import annotations

import pytest

from mlsite import pki
from mlsite.hosts.deploys import registry
from mlsite.hosts.deploys.registry import apply as registry_apply
from mlsite.hosts.facts import UnitState
from mlsite.spec import Role, Secret, load_stack
from tests.hosts.fakehost import DEBIAN_12, Plan, plan


@pytest.fixture
def params(monkeypatch: pytest.MonkeyPatch) -> registry.Params:
    reveal = Secret.reveal

    def plain(self: Secret) -> str:  # the stack's `secure:` user passwords, without Pulumi
        try:
            return reveal(self)
        except LookupError:
            return "password-canary"

    monkeypatch.setattr(Secret, "reveal", plain)
    site = load_stack("akiba").site  # caches: dockerhub, nvcr
    key = pki.new_ca_key()
    ca = registry.CaMaterial(
        cert_pem=pki.ca_certificate(key, "test CA"),
        key=Secret.model_validate(key, context={"plaintext_secrets": True}),
    )
    return registry.params_for(site, site.hosts_with(Role.REGISTRY), ca=ca)


def _plan(params: registry.Params, on_host: list[str], running: list[str]) -> Plan:
    units = {f"mlsite-registry@{n}.service": True for n in running}
    files = tuple(f"/{n}.yml" for n in on_host)
    facts = {
        "OsRelease": DEBIAN_12,
        "CacheInstances": registry_apply.CacheInstances().process([f"{n}.yml" for n in on_host]),
        "Unit": lambda unit: UnitState(
            running=units.get(unit, False), enabled=units.get(unit, False)
        ),
        "File": lambda path, **_: {"mode": 640} if path.endswith(files) else None,
    }
    p = plan(registry_apply.registry, params, facts)
    assert p.error is None, p.error
    return p


def test_a_cache_no_longer_configured_is_stopped_and_unconfigured_but_its_data_kept(
    params: registry.Params,
) -> None:
    on_host = ["push", "pull", "cache-dockerhub", "cache-nvcr", "cache-quay"]
    p = _plan(params, on_host, running=on_host)
    stop = p.op("registry | Stop registry instance cache-quay")
    assert "systemctl stop mlsite-registry@cache-quay.service" in stop.text
    assert "systemctl disable mlsite-registry@cache-quay.service" in stop.text
    rm = p.op("registry | Remove the config of registry instance cache-quay")
    assert rm.text == "rm -f /etc/mlsite-registry/cache-quay.yml"
    assert "cache-quay" not in p.all_commands.replace(stop.text, "").replace(rm.text, "")
    # the stop comes before any instance is (re)started, so a port it held is free
    names = [o.name for o in p.ops]
    assert names.index(stop.name) < min(i for i, n in enumerate(names) if "Run registry" in n)
    # the configured caches are left alone, health check no longer knows the removed one
    assert not p.has("registry | Stop registry instance cache-dockerhub")
    assert "cache-quay" not in p.upload("/usr/local/sbin/mlsite-registry-health")


def test_nothing_is_stopped_when_every_cache_on_the_host_is_configured(
    params: registry.Params,
) -> None:
    on_host = ["push", "pull", "cache-dockerhub", "cache-nvcr"]
    p = _plan(params, on_host, running=on_host)
    assert not [o.name for o in p.ops if "no longer configured" in o.name]


def test_the_fact_reads_cache_instances_from_config_file_names() -> None:
    fact = registry_apply.CacheInstances()
    listing = ["push.yml", "pull.yml", "cache-a.yml", "tls", "htpasswd-all", "cache-b.yml.bak"]
    assert fact.process(listing) == ["cache-a"]

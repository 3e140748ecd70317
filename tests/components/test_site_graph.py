"""The Site graph of every example stack, under Pulumi's mock runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlsite.hosts import deploys
from mlsite.plan.run import plan_stack
from mlsite.spec import available_stacks

HOST_DEPLOY = "pulumi-python:dynamic/hosts:HostDeploy"
STACKS = [s for s in available_stacks() if s not in ("burst", "registry")]  # custom programs


def _by_urn(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in doc["resources"]}


@pytest.fixture(scope="module", params=STACKS)
def plan(request: pytest.FixtureRequest) -> dict[str, Any]:
    return plan_stack(request.param).doc()


PART_TYPES = {
    "mlsite:hosts:Hosts",
    "mlsite:registry:Registry",
    "mlsite:images:RuntimeImage",
    "mlsite:storage:CephCluster",
    "mlsite:storage:NfsHa",
    "mlsite:storage:PersonalDatabases",
}
DATA_PARTS = {
    "mlsite:registry:Registry",
    "mlsite:storage:CephCluster",
    "mlsite:storage:NfsHa",
    "mlsite:storage:PersonalDatabases",
}
SITE_CA = "pulumi-python:dynamic/registry:SiteCa"
CEPH_KEYS = "pulumi-python:dynamic/storage:CephKeys"


def test_site_is_child_of_the_stack_and_parts_children_of_the_site(plan: dict[str, Any]) -> None:
    res = _by_urn(plan)
    (stack,) = [r for r in res.values() if r["type"] == "pulumi:pulumi:Stack"]
    (site,) = [r for r in res.values() if r["type"] == "mlsite:site:Site"]
    assert stack["parent"] is None
    assert site["parent"] == stack["urn"]
    for r in res.values():
        if r["type"] in PART_TYPES or r["type"] == SITE_CA:
            assert r["parent"] == site["urn"], r["name"]
        if r["type"] == HOST_DEPLOY:
            parent = res[r["parent"]]
            assert parent["type"] in PART_TYPES, r["name"]
            assert r["name"].startswith(parent["name"] + "-")


def test_each_part_the_site_describes_is_built(plan: dict[str, Any]) -> None:
    from mlsite.spec import load_stack

    site = load_stack(plan["stack"]).site
    types = [r["type"] for r in plan["resources"]]
    assert ("mlsite:registry:Registry" in types) == (site.registry is not None)
    assert ("mlsite:storage:CephCluster" in types) == (site.storage.ceph is not None)
    assert ("mlsite:storage:NfsHa" in types) == (site.storage.nfs is not None)
    assert ("mlsite:storage:PersonalDatabases" in types) == bool(site.databases.personal)
    assert types.count("mlsite:images:RuntimeImage") == (len(site.images) if site.registry else 0)
    assert types.count(SITE_CA) == (1 if site.site.ca.source == "generate" else 0)


def test_every_resource_type_is_known(plan: dict[str, Any]) -> None:
    allowed = {
        "pulumi:pulumi:Stack",
        "mlsite:site:Site",
        HOST_DEPLOY,
        SITE_CA,
        CEPH_KEYS,
    } | PART_TYPES
    assert {r["type"] for r in plan["resources"]} <= allowed


def test_data_bearing_resources_are_protected_and_only_they(plan: dict[str, Any]) -> None:
    res = _by_urn(plan)
    for r in plan["resources"]:
        if r["type"] == HOST_DEPLOY:
            parent = res[r["parent"]]["type"]
            data = deploys.get(r["inputs"]["role"]).holds_data or parent in DATA_PARTS
            assert r["protect"] == data, r["name"]
        elif r["type"] == SITE_CA:
            assert r["protect"], "the generated CA is protected: every host trusts it"
        else:
            assert not r["protect"], r["name"]


def test_every_deploy_waits_for_the_base_layer(plan: dict[str, Any]) -> None:
    res = _by_urn(plan)
    deploys = [r for r in plan["resources"] if r["type"] == HOST_DEPLOY]
    base = {r["urn"] for r in deploys if r["inputs"]["role"] == "base"}
    assert base

    def ancestors(urn: str, seen: set[str]) -> set[str]:
        for dep in res[urn]["depends_on"]:
            if dep not in seen:
                seen.add(dep)
                ancestors(dep, seen)
        return seen

    for r in deploys:
        if r["inputs"]["role"] != "base":
            assert base <= ancestors(r["urn"], set()), r["name"]


def test_every_host_gets_the_base_layer_and_each_role_its_hosts(plan: dict[str, Any]) -> None:
    deploys = [r for r in plan["resources"] if r["type"] == HOST_DEPLOY]
    based = {
        h["name"] for r in deploys if r["inputs"]["role"] == "base" for h in r["inputs"]["hosts"]
    }
    everyone = {h["name"] for r in deploys for h in r["inputs"]["hosts"]}
    assert based == everyone


def test_secrets_are_marked_secret_and_params_hold_only_references(plan: dict[str, Any]) -> None:
    for r in plan["resources"]:
        if "secrets" in r["inputs"]:
            assert r["inputs"]["secrets"] == "[secret]"
            assert "secrets" in r["secret_inputs"]


def test_every_registered_role_is_planned_on_the_hosts_it_applies_to() -> None:
    from mlsite.hosts.deploys import get as get_deploy
    from mlsite.hosts.deploys import names as deploy_names
    from mlsite.spec import load_stack

    site = load_stack("lab").site
    doc = plan_stack("lab").doc()
    planned = {
        r["inputs"]["role"]: [h["name"] for h in r["inputs"]["hosts"]]
        for r in doc["resources"]
        if r["type"] == HOST_DEPLOY
    }
    for name in [n for n in deploy_names() if deploys.get(n).component is None]:
        expected = [h.name for h in site.hosts if get_deploy(name).applies_to(h)]
        assert planned.get(name, []) == expected, name


def test_every_host_trusts_the_site_ca_through_containerd() -> None:
    import copy
    from datetime import UTC, datetime

    import yaml

    from mlsite import pki
    from mlsite.plan.run import plan_site_data

    key = pki.new_ca_key()
    cert = pki.ca_certificate(key, "test CA", not_before=datetime.now(UTC), validity_days=30)
    raw = yaml.safe_load(Path("stacks/Pulumi.lab.yaml").read_text())["config"]["mlsite:site"]
    data = copy.deepcopy(raw)
    data["site"]["ca"] = {"source": "provided", "certificate": cert, "key": key}
    doc = plan_site_data(data, "lab").doc()
    (containerd,) = [
        r
        for r in doc["resources"]
        if r["type"] == HOST_DEPLOY and r["inputs"]["role"] == "containerd"
    ]
    assert containerd["inputs"]["params"]["ca_pem"] == cert
    assert key not in json.dumps(doc)
    assert not [r for r in doc["resources"] if r["type"] == SITE_CA]


def test_the_gpu_runtime_image_is_pre_pulled_on_gpu_hosts_after_its_push() -> None:
    doc = plan_stack("akiba").doc()
    res = _by_urn(doc)
    prepulls = [
        r
        for r in doc["resources"]
        if r["type"] == HOST_DEPLOY and r["inputs"]["role"] == "image_prepull"
    ]
    assert [r["name"] for r in prepulls] == ["akiba-image-ml-runtime-prepull"]  # not the cpu image
    (prepull,) = prepulls
    builds = [res[u] for u in prepull["depends_on"]]
    assert [b["name"] for b in builds] == ["akiba-image-ml-runtime-build"]
    assert [h["name"] for h in prepull["inputs"]["hosts"]] == [f"akiba-{i}" for i in range(1, 6)]
    (ref,) = prepull["inputs"]["params"]["images"]
    assert ref.startswith("akiba-1.ml.akiba.example.jp:5000/ml-runtime:c-")

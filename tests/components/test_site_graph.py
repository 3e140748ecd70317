"""The Site graph of every example stack, under Pulumi's mock runtime."""

from __future__ import annotations

from typing import Any

import pytest

from components.hosts.roles import COMPONENT_ROLES, DATA_ROLES
from mlsite.plan.run import plan_stack
from mlsite.spec import available_stacks

HOST_DEPLOY = "pulumi-python:dynamic/hosts:HostDeploy"
STACKS = [s for s in available_stacks() if s != "burst"]


def _by_urn(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in doc["resources"]}


@pytest.fixture(scope="module", params=STACKS)
def plan(request: pytest.FixtureRequest) -> dict[str, Any]:
    return plan_stack(request.param).doc()


def test_site_is_child_of_the_stack_and_hosts_of_the_site(plan: dict[str, Any]) -> None:
    res = _by_urn(plan)
    types = {r["type"]: r for r in res.values()}
    stack, site, hosts = (
        types["pulumi:pulumi:Stack"],
        types["mlsite:site:Site"],
        types["mlsite:hosts:Hosts"],
    )
    assert stack["parent"] is None
    assert site["parent"] == stack["urn"]
    assert hosts["parent"] == site["urn"]
    for r in res.values():
        if r["type"] == HOST_DEPLOY:
            assert r["parent"] == hosts["urn"]
            assert r["name"].startswith(hosts["name"] + "-")


def test_every_resource_type_is_known(plan: dict[str, Any]) -> None:
    allowed = {"pulumi:pulumi:Stack", "mlsite:site:Site", "mlsite:hosts:Hosts", HOST_DEPLOY}
    assert {r["type"] for r in plan["resources"]} <= allowed


def test_data_bearing_roles_are_protected_and_only_they(plan: dict[str, Any]) -> None:
    for r in plan["resources"]:
        if r["type"] == HOST_DEPLOY:
            assert r["protect"] == (r["inputs"]["role"] in DATA_ROLES), r["name"]


def test_roles_depend_on_the_base_layer(plan: dict[str, Any]) -> None:
    deploys = [r for r in plan["resources"] if r["type"] == HOST_DEPLOY]
    base = {r["urn"] for r in deploys if r["inputs"]["role"] == "base"}
    assert base
    for r in deploys:
        if r["inputs"]["role"] != "base":
            assert base <= set(r["depends_on"]), r["name"]


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
    from hosts.roles import get_role, role_names
    from mlsite.spec import load_stack

    site = load_stack("lab").site
    doc = plan_stack("lab").doc()
    planned = {
        r["inputs"]["role"]: [h["name"] for h in r["inputs"]["hosts"]]
        for r in doc["resources"]
        if r["type"] == HOST_DEPLOY
    }
    for name in set(role_names()) - COMPONENT_ROLES:
        expected = [h.name for h in site.hosts if get_role(name).applies_to(h)]
        assert planned.get(name, []) == expected, name

"""Components as a library: composed with nothing but their Args, the safe way is the default."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from mlsite.components import (
    CephCluster,
    CephClusterArgs,
    Hosts,
    HostsArgs,
    NfsHa,
    NfsHaArgs,
    Registry,
    RegistryArgs,
)
from mlsite.plan.mocks import Registration
from mlsite.plan.run import run_program
from mlsite.spec import load_stack

HOST_DEPLOY = "pulumi-python:dynamic/hosts:HostDeploy"


def _run(program: Any) -> dict[str, Registration]:
    return {r.name: r for r in run_program(program, project="p", stack="t", config={})}


def test_hosts_and_registry_from_their_args_trust_one_ca_and_wait_for_the_base(
    engine_ca: str,
) -> None:
    site = load_stack("lab").site

    def program() -> None:
        hosts = Hosts("hosts", HostsArgs(site))
        Registry("registry", RegistryArgs(hosts))

    regs = _run(program)
    containerd, registry = regs["hosts-containerd"], regs["registry-hosts"]
    # containerd on every host trusts the CA the registry's certificate is issued from
    assert containerd.inputs["params"]["ca_pem"] == engine_ca
    assert registry.inputs["params"]["tls"]["ca_cert_pem"] == engine_ca
    ca = regs["hosts-ca"]
    assert ca.urn in containerd.depends_on and ca.urn in registry.depends_on
    # the registry's deploys run after the base deploy of the hosts they run on
    base = {r.urn for r in regs.values() if r.type == HOST_DEPLOY and r.inputs["role"] == "base"}
    assert base and base <= set(registry.depends_on)
    assert registry.protect  # it holds the images


def test_opts_depends_on_and_protect_reach_every_child(engine_ca: str) -> None:
    site = load_stack("lab").site

    def program() -> None:
        gate = pulumi.CustomResource("test:index:Gate", "gate", {})
        opts = pulumi.ResourceOptions(depends_on=[gate], protect=True)
        hosts = Hosts("hosts", HostsArgs(site), opts)
        ceph = CephCluster("ceph", CephClusterArgs(hosts), opts)
        NfsHa("nfs", NfsHaArgs(ceph), opts)

    regs = _run(program)
    gate = regs["gate"].urn
    children = [r for r in regs.values() if r.custom and r.parent != regs["p-t"].urn]
    assert {r.type for r in children} >= {HOST_DEPLOY, "pulumi-python:dynamic/storage:CephKeys"}
    for r in children:
        assert gate in r.depends_on, f"{r.name} does not wait for what its component waits for"
        assert r.protect, f"{r.name} is not protected though its component is"


def test_without_protect_only_data_bearing_children_are_protected(engine_ca: str) -> None:
    site = load_stack("lab").site
    regs = _run(lambda: Hosts("hosts", HostsArgs(site)) and None)
    deploys = {r.name: r.protect for r in regs.values() if r.type == HOST_DEPLOY}
    assert deploys and not any(deploys.values()), deploys
    assert regs["hosts-ca"].protect  # every host trusts it: replacing it is never casual


def test_unknown_deploy_names_are_refused_with_the_valid_ones() -> None:
    site = load_stack("lab").site
    with pytest.raises(ValueError) as info:
        _run(lambda: Hosts("hosts", HostsArgs(site, deploys={"base", "netwrk"})) and None)
    message = str(info.value)
    assert "HostsArgs.deploys" in message and "'netwrk'" in message
    assert "valid deploys: base, network" in message


def test_deploys_that_need_a_component_are_refused_by_hosts_naming_it() -> None:
    site = load_stack("lab").site
    with pytest.raises(ValueError) as info:
        _run(lambda: Hosts("hosts", HostsArgs(site, deploys={"base", "ceph"})) and None)
    assert "ceph (use CephCluster)" in str(info.value)


def test_a_registry_needs_a_registry_description_and_says_where_to_give_it() -> None:
    site = load_stack("lab").site.model_copy(update={"registry": None})
    with pytest.raises(ValueError, match=r"RegistryArgs\.registry"):
        _run(lambda: Registry("r", RegistryArgs(Hosts("h", HostsArgs(site)))) and None)

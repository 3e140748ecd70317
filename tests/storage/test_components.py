"""The storage components under Pulumi's mock runtime: tokens, parents, protection, wiring."""

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
    PersonalDatabases,
    PersonalDatabasesArgs,
)
from mlsite.hosts.deploys.nfs_ha import NfsRefused
from mlsite.plan.mocks import PlanMocks
from mlsite.plan.run import run_program
from mlsite.spec import load_stack


def build() -> None:
    hosts = Hosts("lab-hosts", HostsArgs(load_stack("lab").site))
    ceph = CephCluster("lab-ceph", CephClusterArgs(hosts))
    NfsHa("lab-nfs", NfsHaArgs(ceph))
    PersonalDatabases("lab-databases", PersonalDatabasesArgs(ceph))


def test_tokens_parents_and_protected_deploys() -> None:
    by_name = {r.name: r for r in run_program(build, project="mlsite", stack="t", config={})}
    for component, token, deploy, role in (
        ("lab-ceph", "mlsite:storage:CephCluster", "lab-ceph-hosts", "ceph"),
        ("lab-nfs", "mlsite:storage:NfsHa", "lab-nfs-hosts", "nfs_ha"),
        (
            "lab-databases",
            "mlsite:storage:PersonalDatabases",
            "lab-databases-hosts",
            "personal_db",
        ),
    ):
        assert by_name[component].type == token
        child = by_name[deploy]
        assert child.parent == by_name[component].urn
        assert child.protect, deploy
        assert child.inputs["role"] == role
    ceph_deploy = by_name["lab-ceph-hosts"]
    assert [h["name"] for h in ceph_deploy.inputs["hosts"]] == ["lab-1", "lab-2", "lab-3"]
    assert ceph_deploy.urn in by_name["lab-nfs-hosts"].depends_on
    assert [h["name"] for h in by_name["lab-nfs-hosts"].inputs["hosts"]] == ["lab-1", "lab-2"]


def test_nfs_ha_without_fencing_is_refused_before_any_resource() -> None:
    site = load_stack("lab").site
    assert site.storage.nfs is not None
    unfenced = site.storage.nfs.model_copy(update={"fencing": None})
    registered: list[str] = []

    def program() -> None:
        ceph = CephCluster("lab-ceph", CephClusterArgs(Hosts("lab-hosts", HostsArgs(site))))
        registered.append("ceph")
        NfsHa("lab-nfs", NfsHaArgs(ceph, nfs=unfenced))
        registered.append("nfs")

    with pytest.raises(Exception) as info:
        run_program(program, project="mlsite", stack="t", config={})
    assert isinstance(info.value, NfsRefused) or "without fencing" in str(info.value)
    assert registered == ["ceph"]


KEYRING = "[client.admin]\n\tkey = AQBtZXN0a2V5a2V5a2V5a2V5a2V5a2V5a2V5Zz==\n"


def test_admin_keyring_comes_back_as_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = PlanMocks.new_resource

    def engine(self: PlanMocks, args: Any) -> tuple[str | None, dict[Any, Any]]:
        """The engine's answer: the keys resource has read the admin keyring."""
        rid, outputs = plain(self, args)
        if args.typ == "pulumi-python:dynamic/storage:CephKeys":
            outputs["keyrings"] = {"client.admin": KEYRING}
        return rid, outputs

    monkeypatch.setattr(PlanMocks, "new_resource", engine)
    seen: list[Any] = []

    def program() -> None:
        hosts = Hosts("lab-hosts", HostsArgs(load_stack("lab").site))
        ceph = CephCluster("lab-ceph", CephClusterArgs(hosts))
        keyring = ceph.admin_keyring
        pulumi.Output.all(keyring, pulumi.Output.is_secret(keyring)).apply(seen.append)

    by_name = {r.name: r for r in run_program(program, project="mlsite", stack="t", config={})}
    assert seen == [[KEYRING, True]]
    keys = by_name["lab-ceph-keys"]
    assert keys.parent == by_name["lab-ceph"].urn
    assert by_name["lab-ceph-hosts"].urn in keys.depends_on
    assert keys.inputs["host"]["name"] == "lab-1"
    assert keys.inputs["entities"] == ["client.admin"]
    assert not keys.protect  # holds no data: reading the keys again is harmless

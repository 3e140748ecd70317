"""The storage components under Pulumi's mock runtime: tokens, parents, protection, wiring."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from mlsite.components.storage.ceph import CephCluster
from mlsite.components.storage.databases import PersonalDatabases
from mlsite.components.storage.nfs import NfsHa
from mlsite.hosts.deploys.nfs_ha import NfsRefused
from mlsite.plan.mocks import PlanMocks
from mlsite.plan.run import run_program
from mlsite.spec import load_stack


def build() -> None:
    site = load_stack("lab").site
    ceph = CephCluster("lab-ceph", site)
    NfsHa("lab-nfs", site, ceph=ceph)
    PersonalDatabases("lab-databases", site, ceph=ceph)


def test_tokens_parents_and_protected_deploys() -> None:
    by_name = {r.name: r for r in run_program(build, project="mlsite", stack="t", config={})}
    for component, token, deploy, role in (
        ("lab-ceph", "mlsite:storage:CephCluster", "lab-ceph-ceph", "ceph"),
        ("lab-nfs", "mlsite:storage:NfsHa", "lab-nfs-nfs-ha", "nfs_ha"),
        (
            "lab-databases",
            "mlsite:storage:PersonalDatabases",
            "lab-databases-personal-db",
            "personal_db",
        ),
    ):
        assert by_name[component].type == token
        child = by_name[deploy]
        assert child.parent == by_name[component].urn
        assert child.protect, deploy
        assert child.inputs["role"] == role
    ceph_deploy = by_name["lab-ceph-ceph"]
    assert [h["name"] for h in ceph_deploy.inputs["hosts"]] == ["lab-1", "lab-2", "lab-3"]
    assert ceph_deploy.urn in by_name["lab-nfs-nfs-ha"].depends_on
    assert [h["name"] for h in by_name["lab-nfs-nfs-ha"].inputs["hosts"]] == ["lab-1", "lab-2"]


def test_nfs_ha_without_fencing_is_refused_before_any_resource() -> None:
    site = load_stack("lab").site
    assert site.storage.nfs is not None
    nfs = site.storage.nfs.model_copy(update={"fencing": None})
    broken = site.model_copy(update={"storage": site.storage.model_copy(update={"nfs": nfs})})

    def program() -> None:
        NfsHa("lab-nfs", broken, ceph=CephCluster("lab-ceph", broken))

    with pytest.raises(Exception) as info:
        run_program(program, project="mlsite", stack="t", config={})
    assert isinstance(info.value, NfsRefused) or "without fencing" in str(info.value)


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
        ceph = CephCluster("lab-ceph", load_stack("lab").site)
        keyring = ceph.admin_keyring
        pulumi.Output.all(keyring, pulumi.Output.is_secret(keyring)).apply(seen.append)

    by_name = {r.name: r for r in run_program(program, project="mlsite", stack="t", config={})}
    assert seen == [[KEYRING, True]]
    keys = by_name["lab-ceph-keys"]
    assert keys.parent == by_name["lab-ceph"].urn
    assert by_name["lab-ceph-ceph"].urn in keys.depends_on
    assert keys.inputs["host"]["name"] == "lab-1"
    assert keys.inputs["entities"] == ["client.admin"]
    assert not keys.protect  # holds no data: reading the keys again is harmless

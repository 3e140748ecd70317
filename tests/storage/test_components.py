"""The storage components under Pulumi's mock runtime: tokens, parents, protection, wiring."""

from __future__ import annotations

import pytest

from components.storage.ceph import CephCluster
from components.storage.databases import PersonalDatabases
from components.storage.nfs import NfsHa
from hosts.deploys.nfs_ha import NfsRefused
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

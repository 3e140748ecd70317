"""NFS HA at parameter and operation level: fencing is required; the CIB's shape."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from pydantic import ValidationError

from mlsite.hosts.deploys.nfs_ha import NfsRefused, Params, cib_configuration, params_for
from mlsite.hosts.deploys.nfs_ha.apply import nfs_ha
from mlsite.spec import SiteSpec
from tests.hosts.fakehost import DEBIAN_12, plan
from tests.storage.labrun import lab_site


def unfenced_site() -> SiteSpec:
    site = lab_site()
    assert site.storage.nfs is not None
    nfs = site.storage.nfs.model_copy(update={"fencing": None})
    return site.model_copy(update={"storage": site.storage.model_copy(update={"nfs": nfs})})


def test_params_refuse_ha_without_fencing() -> None:
    site = unfenced_site()
    with pytest.raises(NfsRefused, match="without fencing"):
        params_for(site, site.hosts)


def test_params_model_refuses_ha_without_a_device_per_node() -> None:
    data = params_for(lab_site(), lab_site().hosts).model_dump(
        mode="json", context={"reveal_secrets": True}
    )
    data["fencing"] = data["fencing"][:1]
    with pytest.raises(ValidationError, match="without fencing for lab-2"):
        Params.model_validate(data)


def test_deploy_refuses_before_any_operation() -> None:
    good = params_for(lab_site(), lab_site().hosts)
    unfenced = Params.model_construct(**{**dict(good), "fencing": ()})  # bypasses validation
    result = plan(nfs_ha, unfenced, {"OsRelease": DEBIAN_12}, host_name="lab-1")
    assert isinstance(result.error, NfsRefused)
    assert result.ops == []


def test_cib_orders_the_group_and_keeps_fence_devices_off_their_node() -> None:
    configuration, cib = cib_configuration(params_for(lab_site(), lab_site().hosts))
    root = ET.fromstring(cib)
    group = root.find(".//group[@id='nfs-home']")
    assert group is not None
    assert [p.get("id") for p in group.findall("primitive")] == [
        "home-rbd",
        "home-fs",
        "home-nfs",
        "home-ip",
    ]
    assert root.find(".//nvpair[@name='stonith-enabled']").get("value") == "true"  # type: ignore[union-attr]
    fences = root.findall(".//primitive[@class='stonith']")
    assert {f.get("type") for f in fences} == {"fence_mlsite_lab"}
    banned = {(c.get("rsc"), c.get("node"), c.get("score")) for c in root.iter("rsc_location")}
    assert banned == {("fence-lab-1", "lab-1", "-INFINITY"), ("fence-lab-2", "lab-2", "-INFINITY")}
    # the lab pair has a witness: only a quorate side fences, so no delay is needed
    assert root.find(".//nvpair[@name='pcmk_delay_base']") is None
    assert configuration.startswith("<configuration>")


def _without_witness() -> SiteSpec:
    site = lab_site()
    hosts = tuple(
        h.model_copy(update={"roles": tuple(r for r in h.roles if r != "nfs-witness")})
        for h in site.hosts
    )
    return site.model_copy(update={"hosts": hosts})


def test_a_pair_without_a_witness_runs_two_node_and_delays_fencing_the_first_node() -> None:
    site = _without_witness()
    params = params_for(site, site.hosts)
    assert params.witness is None
    _, cib = cib_configuration(params)
    root = ET.fromstring(cib)
    delays = {
        p.get("id"): nv.get("value")
        for p in root.findall(".//primitive[@class='stonith']")
        for nv in p.iter("nvpair")
        if nv.get("name") == "pcmk_delay_base"
    }
    assert delays == {"fence-lab-1": "10s"}
    conf = plan(nfs_ha, params, {"OsRelease": DEBIAN_12}, host_name="lab-1").upload(
        "/etc/corosync/corosync.conf"
    )
    assert "two_node: 1" in conf and "device {" not in conf


def test_the_witness_runs_the_quorum_device_and_the_nodes_vote_through_it() -> None:
    params = params_for(lab_site(), lab_site().hosts)
    assert params.witness is not None and params.witness.name == "lab-3"
    witness = plan(nfs_ha, params, {"OsRelease": DEBIAN_12}, host_name="lab-3")
    assert witness.error is None
    assert "corosync-qnetd" in witness.op("nfs_ha | Install the quorum device server").text
    assert witness.has("nfs_ha | Run the quorum device server")
    assert "nfs-ganesha" not in witness.all_commands and "pacemaker" not in witness.all_commands
    node = plan(nfs_ha, params, {"OsRelease": DEBIAN_12}, host_name="lab-1")
    conf = node.upload("/etc/corosync/corosync.conf")
    assert "two_node" not in conf
    assert f"host: {params.witness.address}" in conf and "algorithm: ffsplit" in conf
    assert "token: 1000" in conf
    assert "corosync-qdevice" in node.op("nfs_ha | Install the NFS server").text
    assert node.has("nfs_ha | Run the quorum device client")
    # a changed corosync.conf is reloaded in place, never by restarting corosync under
    # pacemaker (that would drop the node from the cluster)
    assert "corosync-cfgtool -R" in node.op("nfs_ha | Reload corosync's configuration").text
    assert "restart" not in node.op("nfs_ha | Run corosync").text

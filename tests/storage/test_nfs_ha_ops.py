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
    assert root.find(".//nvpair[@name='pcmk_delay_base']").get("value") == "10s"  # type: ignore[union-attr]
    assert configuration.startswith("<configuration>")

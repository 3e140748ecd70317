"""The network deploy at operation level (ifupdown on Debian, netplan on Ubuntu)."""

from __future__ import annotations

import yaml

from mlsite.hosts.deploys import network
from mlsite.hosts.deploys.network import apply as network_apply
from mlsite.hosts.deploys.network import render
from mlsite.hosts.deploys.network.render import BondConf, HostNetwork, NicConf, VlanConf
from mlsite.spec import SiteSpec
from tests.hosts.fakehost import DEBIAN_12, UBUNTU_22, plan

NET = HostNetwork(
    address="10.0.0.5",
    prefix=24,
    management_interface="bond0",
    nics=(NicConf(name="eno1", mtu=9000), NicConf(name="eno2", mtu=9000), NicConf(name="eno3")),
    bonds=(
        BondConf(
            name="bond0",
            interfaces=("eno1", "eno2"),
            mode="balance-alb",
            mtu=9000,
            vlans=(VlanConf(id=20, address="10.0.20.5", prefix=24),),
        ),
    ),
)


def test_lab_bond_is_rendered_with_the_management_address(lab_site: SiteSpec) -> None:
    params = network.params_for(lab_site, lab_site.hosts)
    assert params.apply_live == "none"
    text = render.ifupdown(params.hosts["lab-1"])
    assert "iface bond0 inet static\n    address 10.77.0.11/24\n    bond-slaves eth1 eth2" in text
    assert "bond-mode balance-alb" in text and "bond-master bond0" in text
    assert not params.hosts["lab-2"].managed


def test_ifupdown_renders_vlans_and_mtu() -> None:
    text = render.ifupdown(NET)
    assert "auto bond0.20\niface bond0.20 inet static\n    address 10.0.20.5/24" in text
    assert "vlan-raw-device bond0\n    mtu 9000" in text
    assert "iface eno3 inet manual\n    mtu 1500" in text


def test_netplan_renders_the_same_links() -> None:
    doc = yaml.safe_load(render.netplan(NET))["network"]
    assert doc["bonds"]["bond0"]["parameters"]["mode"] == "balance-alb"
    assert doc["bonds"]["bond0"]["addresses"] == ["10.0.0.5/24"]
    assert doc["vlans"]["bond0.20"] == {
        "id": 20,
        "link": "bond0",
        "mtu": 9000,
        "addresses": ["10.0.20.5/24"],
    }
    assert doc["ethernets"]["eno1"]["mtu"] == 9000


def test_debian_validates_before_installing_and_never_touches_the_management_link() -> None:
    params = network.Params(hosts={"h1": NET})
    p = plan(network_apply.network, params, {"OsRelease": DEBIAN_12})
    names = [o.name for o in p.ops]
    validate = names.index("network | Validate the staged configuration with ifupdown's parser")
    install = names.index("network | Install the ifupdown configuration")
    assert validate < install
    live = p.op("network | Bring up")
    assert [c.rsplit("ifup ", 1)[1] for c in live.commands] == ["eno3", "bond0.20"]
    assert p.has("network | Check the host still answers")


def test_lab_mode_stages_and_validates_only() -> None:
    params = network.Params(hosts={"h1": NET}, apply_live="none")
    p = plan(network_apply.network, params, {"OsRelease": DEBIAN_12})
    assert p.has("network | Validate") and not p.has("network | Bring up")
    # never installed where networking.service would raise it at boot
    assert not p.has("network | Install the ifupdown configuration")
    assert p.has("network | Keep the configuration staged only")


def test_ubuntu_uses_netplan() -> None:
    params = network.Params(hosts={"h1": NET})
    p = plan(network_apply.network, params, {"OsRelease": UBUNTU_22})
    assert "bond0" in p.upload(network.NETPLAN_FILE)
    assert p.has("network | Validate with netplan generate")
    assert not any("ifup" in o.text for o in p.ops)


def test_default_gateway_goes_on_the_management_link_only() -> None:
    routed = NET.model_copy(update={"gateway": "10.0.0.1"})
    text = render.ifupdown(routed)
    assert "iface bond0 inet static\n    address 10.0.0.5/24\n    gateway 10.0.0.1\n" in text
    assert text.count("gateway") == 1 and "gateway" not in render.ifupdown(NET)
    doc = yaml.safe_load(render.netplan(routed))["network"]
    assert doc["bonds"]["bond0"]["routes"] == [{"to": "default", "via": "10.0.0.1"}]
    assert "routes" not in doc["vlans"]["bond0.20"]
    assert "routes" not in yaml.safe_load(render.netplan(NET))["network"]["bonds"]["bond0"]


def test_site_gateway_reaches_the_host_parameters(lab_site: SiteSpec) -> None:
    networks = lab_site.site.networks.model_copy(update={"gateway": "10.77.0.1"})
    site = lab_site.model_copy(
        update={"site": lab_site.site.model_copy(update={"networks": networks})}
    )
    params = network.params_for(site, site.hosts)
    assert "    gateway 10.77.0.1" in render.ifupdown(params.hosts["lab-1"])

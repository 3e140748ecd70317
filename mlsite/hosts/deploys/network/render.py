"""Pure renderers of a host's network configuration: ifupdown (Debian) and netplan (Ubuntu)."""

from __future__ import annotations

from typing import Any

import yaml

from mlsite.hosts.deploys.base.render import HEADER
from mlsite.hosts.params import DeployParams as _Model


class VlanConf(_Model):
    """A tagged VLAN on a bond."""

    id: int
    address: str | None = None
    prefix: int = 24
    mtu: int | None = None


class BondConf(_Model):
    """A bond and its VLANs."""

    name: str
    interfaces: tuple[str, ...]
    mode: str
    mtu: int = 1500
    vlans: tuple[VlanConf, ...] = ()


class NicConf(_Model):
    """A physical port."""

    name: str
    mtu: int = 1500


class HostNetwork(_Model):
    """One host's links; the management interface carries ``address/prefix``."""

    address: str
    prefix: int
    gateway: str | None = None
    """Default route via the management interface. None: no route is written."""
    management_interface: str | None = None
    nics: tuple[NicConf, ...] = ()
    bonds: tuple[BondConf, ...] = ()

    @property
    def managed(self) -> bool:
        """Whether there is anything to configure (hosts declaring no links are left alone)."""
        return bool(self.nics or self.bonds)

    def interfaces(self) -> tuple[str, ...]:
        """Every interface this configuration defines, in bring-up order."""
        names = [n.name for n in self.nics]
        for bond in self.bonds:
            names += [i for i in bond.interfaces if i not in names]
            names.append(bond.name)
            names += [f"{bond.name}.{v.id}" for v in bond.vlans]
        return tuple(names)


def _mtus(net: HostNetwork) -> dict[str, int]:
    return {n.name: n.mtu for n in net.nics}


def _static(net: HostNetwork) -> list[str]:
    lines = [f"    address {net.address}/{net.prefix}"]
    if net.gateway:
        lines.append(f"    gateway {net.gateway}")
    return lines


def _netplan_static(net: HostNetwork) -> dict[str, Any]:
    entry: dict[str, Any] = {"addresses": [f"{net.address}/{net.prefix}"]}
    if net.gateway:
        entry["routes"] = [{"to": "default", "via": net.gateway}]
    return entry


def ifupdown(net: HostNetwork) -> str:
    """/etc/network/interfaces.d/50-mlsite (ifupdown + ifenslave)."""
    mtus = _mtus(net)
    enslaved = {i: b for b in net.bonds for i in b.interfaces}
    out = [HEADER.rstrip("\n")]
    for name in [n.name for n in net.nics] + [i for i in enslaved if i not in mtus]:
        out += ["", f"auto {name}", f"iface {name} inet manual", f"    mtu {mtus.get(name, 1500)}"]
        if name in enslaved:
            out.append(f"    bond-master {enslaved[name].name}")
        if name == net.management_interface and name not in enslaved:
            out[-2] = f"iface {name} inet static"
            out += _static(net)
    for bond in net.bonds:
        static = bond.name == net.management_interface
        out += [
            "",
            f"auto {bond.name}",
            f"iface {bond.name} inet {'static' if static else 'manual'}",
        ]
        if static:
            out += _static(net)
        out += [
            f"    bond-slaves {' '.join(bond.interfaces)}",
            f"    bond-mode {bond.mode}",
            "    bond-miimon 100",
            f"    mtu {bond.mtu}",
        ]
        for vlan in bond.vlans:
            name = f"{bond.name}.{vlan.id}"
            method = "static" if vlan.address else "manual"
            out += ["", f"auto {name}", f"iface {name} inet {method}"]
            if vlan.address:
                out.append(f"    address {vlan.address}/{vlan.prefix}")
            out += [f"    vlan-raw-device {bond.name}", f"    mtu {vlan.mtu or bond.mtu}"]
    return "\n".join(out) + "\n"


def netplan(net: HostNetwork) -> str:
    """/etc/netplan/60-mlsite.yaml (systemd-networkd renderer)."""
    mtus = _mtus(net)
    ethernets: dict[str, Any] = {}
    for name in dict.fromkeys([*mtus, *(i for b in net.bonds for i in b.interfaces)]):
        ethernets[name] = {"dhcp4": False, "mtu": mtus.get(name, 1500)}
    mgmt = net.management_interface
    if mgmt in ethernets:
        ethernets[mgmt].update(_netplan_static(net))
    bonds: dict[str, Any] = {}
    vlans: dict[str, Any] = {}
    for bond in net.bonds:
        bonds[bond.name] = {
            "interfaces": list(bond.interfaces),
            "mtu": bond.mtu,
            "dhcp4": False,
            "parameters": {"mode": bond.mode, "mii-monitor-interval": 100},
        }
        if bond.name == mgmt:
            bonds[bond.name].update(_netplan_static(net))
        for vlan in bond.vlans:
            entry: dict[str, Any] = {"id": vlan.id, "link": bond.name, "mtu": vlan.mtu or bond.mtu}
            if vlan.address:
                entry["addresses"] = [f"{vlan.address}/{vlan.prefix}"]
            vlans[f"{bond.name}.{vlan.id}"] = entry
    network: dict[str, Any] = {"version": 2, "renderer": "networkd", "ethernets": ethernets}
    if bonds:
        network["bonds"] = bonds
    if vlans:
        network["vlans"] = vlans
    return HEADER + yaml.safe_dump({"network": network}, sort_keys=False)

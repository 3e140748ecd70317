"""Network links: bonds, VLANs, MTU and static addresses (ifupdown on Debian, netplan on Ubuntu).

The management link is never cut mid-run: the candidate configuration is validated by the
distribution's own parser (``ifup --no-act`` / ``netplan generate``) before it is installed,
live changes are applied only to interfaces that do not carry the management address (a
change of the management interface itself is installed for the next boot and reported by
the operation's name), and after a live change the host must still answer on its
management address.
"""

from __future__ import annotations

from typing import Literal

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import files, server

from mlsite.hosts import operations
from mlsite.hosts.deploys.common import host_entry, put_text
from mlsite.hosts.distro import distro
from mlsite.hosts.params import RoleParams
from mlsite.hosts.render import network as render
from mlsite.hosts.render.network import BondConf, HostNetwork, NicConf, VlanConf
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, SiteSpec

STAGING = "/etc/mlsite/network"
IFUPDOWN_FILE = "/etc/network/interfaces.d/50-mlsite"
NETPLAN_FILE = "/etc/netplan/60-mlsite.yaml"


class Params(RoleParams):
    """Parameters of the network role on a group of hosts."""

    hosts: dict[str, HostNetwork]
    """Each host's links, by host name."""
    apply_live: Literal["non-management", "none"] = "non-management"
    """``non-management``: install, and bring changed interfaces that do not carry the
    management address up at once. ``none``: render and validate only, never activate (lab
    hosts: this machine's kernel has no bonding or 8021q driver, so bonds and VLANs cannot
    exist there, and an installed file would leave networking.service failed at boot)."""


def _host_network(site: SiteSpec, h: Host) -> HostNetwork:
    mgmt = h.management_interface
    if mgmt is None and (h.bonds or h.nics):
        mgmt = h.bonds[0].name if h.bonds else h.nics[0].name
    return HostNetwork(
        address=str(h.address),
        prefix=site.site.networks.management.prefixlen,
        gateway=str(site.site.networks.gateway) if site.site.networks.gateway else None,
        management_interface=mgmt,
        nics=tuple(NicConf(name=n.name, mtu=n.mtu) for n in h.nics),
        bonds=tuple(
            BondConf(
                name=b.name,
                interfaces=b.interfaces,
                mode=b.mode,
                mtu=b.mtu,
                vlans=tuple(
                    VlanConf(
                        id=v.id,
                        address=str(v.address) if v.address else None,
                        prefix=v.prefix,
                        mtu=v.mtu,
                    )
                    for v in b.vlans
                ),
            )
            for b in h.bonds
        ),
    )


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The network parameters of ``hosts`` (pure)."""
    return Params(
        hosts={h.name: _host_network(site, h) for h in hosts},
        apply_live="none" if any(h.lab for h in hosts) else "non-management",
    )


@deploy("network")
def network(params: Params) -> None:
    """Configure the current host's links."""
    net = host_entry(params.hosts, host.name, "network")
    if not net.managed:
        return
    if distro().uses_netplan:
        _netplan(net, params)
    else:
        _ifupdown(net, params)


def _ifupdown(net: HostNetwork, params: Params) -> None:
    operations.packages(name="Install ifupdown and ifenslave", packages=["ifupdown", "ifenslave"])
    files.line(
        name="Make /etc/network/interfaces read interfaces.d",
        path="/etc/network/interfaces",
        line="source /etc/network/interfaces.d/*",
    )
    staged = f"{STAGING}/50-mlsite"
    stage = put_text("Stage the ifupdown configuration", staged, render.ifupdown(net))
    if stage.will_change:
        server.shell(
            name="Validate the staged configuration with ifupdown's parser",
            commands=[
                f"ifquery --interfaces={staged} --list --all >/dev/null",
                f"ifup --no-act --interfaces={staged} --all >/dev/null",
            ],
        )
    if params.apply_live == "none":
        files.file(
            name="Keep the configuration staged only (links this host cannot have)",
            path=IFUPDOWN_FILE,
            present=False,
        )
        return
    installed = put_text("Install the ifupdown configuration", IFUPDOWN_FILE, render.ifupdown(net))
    live = _live_interfaces(net, params)
    if installed.will_change and live:
        server.shell(
            name=f"Bring up {', '.join(live)} (management link untouched)",
            commands=[f"ifdown --force {i} >/dev/null 2>&1 || true; ifup {i}" for i in live],
        )
        _check_answers(net)


def _netplan(net: HostNetwork, params: Params) -> None:
    content = render.netplan(net)
    installed = put_text("Install the netplan configuration", NETPLAN_FILE, content, "600")
    if installed.will_change:
        server.shell(name="Validate with netplan generate", commands=["netplan generate"])
        if _live_interfaces(net, params):
            # netplan applies all files at once; networkd keeps unchanged links (and the
            # management address) up, so only changed interfaces are touched.
            server.shell(name="Apply with netplan apply", commands=["netplan apply"])
            _check_answers(net)


def _live_interfaces(net: HostNetwork, params: Params) -> list[str]:
    if params.apply_live == "none":
        return []
    mgmt = net.management_interface
    carriers = {mgmt}
    for bond in net.bonds:
        if bond.name == mgmt:
            carriers |= set(bond.interfaces)
    return [i for i in net.interfaces() if i not in carriers]


def _check_answers(net: HostNetwork) -> None:
    server.shell(
        name="Check the host still answers on its management address",
        commands=[f"ip -o -4 addr show | grep -q ' {net.address}/'"],
    )


ROLE = RoleDeploy(
    name="network", deploy=network, params_model=Params, params_for=params_for, batch_facts=True
)

# Run as a deploy file: pyinfra hosts/inventory.py hosts/deploys/network.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("network")

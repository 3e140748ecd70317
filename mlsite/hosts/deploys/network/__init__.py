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

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.deploys.network.render import BondConf, HostNetwork, NicConf, VlanConf
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, SiteSpec

STAGING = "/etc/mlsite/network"


IFUPDOWN_FILE = "/etc/network/interfaces.d/50-mlsite"


NETPLAN_FILE = "/etc/netplan/60-mlsite.yaml"


class Params(DeployParams):
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


def _live_interfaces(net: HostNetwork, params: Params) -> list[str]:
    if params.apply_live == "none":
        return []
    mgmt = net.management_interface
    carriers = {mgmt}
    for bond in net.bonds:
        if bond.name == mgmt:
            carriers |= set(bond.interfaces)
    return [i for i in net.interfaces() if i not in carriers]


DEPLOY = Deploy(name="network", params_model=Params, params_for=params_for, batch_facts=True)

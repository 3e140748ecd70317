"""The pyinfra half of the ``network`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.network``.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import files, server

from mlsite.hosts import operations
from mlsite.hosts.common import host_entry, put_text
from mlsite.hosts.deploys.network import (
    IFUPDOWN_FILE,
    NETPLAN_FILE,
    STAGING,
    Params,
    _live_interfaces,
    render,
)
from mlsite.hosts.deploys.network.render import HostNetwork
from mlsite.hosts.distro import distro


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


def _check_answers(net: HostNetwork) -> None:
    server.shell(
        name="Check the host still answers on its management address",
        commands=[f"ip -o -4 addr show | grep -q ' {net.address}/'"],
    )


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/network/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.network import DEPLOY

    run_deploy_file(DEPLOY)

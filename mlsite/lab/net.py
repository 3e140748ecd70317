"""The lab network: a bridge, one network namespace and veth pair per host, link drills.

Every kernel object is named with the `mls-` prefix, so teardown can find it by name too.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from mlsite.lab.errors import LabError
from mlsite.lab.plan import LabHost, LabPlan
from mlsite.lab.tools import run

PREFIX = "mls-"
BRIDGE = "mls-br0"
NFT_TABLE = "mls_lab"
NETNS_DIR = Path("/run/netns")


def _links() -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(run(["ip", "-j", "addr", "show"]).stdout or "[]")
    return data


def check_clashes(plan: LabPlan) -> None:
    """Fail if the lab network overlaps a network this machine already uses (not the lab's own)."""
    clashes: list[str] = []
    for link in _links():
        name = str(link.get("ifname", ""))
        if name.startswith(PREFIX):
            continue
        addr_info = link.get("addr_info")
        for info in addr_info if isinstance(addr_info, list) else []:
            if info.get("family") != "inet":
                continue
            net = ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}").network
            if net.overlaps(plan.network) and net.prefixlen > 0:
                clashes.append(f"{info['local']}/{info['prefixlen']} on {name}")
    routes = json.loads(run(["ip", "-j", "-4", "route", "show"]).stdout or "[]")
    for route in routes:
        dst, dev = str(route.get("dst", "")), str(route.get("dev", ""))
        if dst in ("", "default") or dev.startswith(PREFIX):
            continue
        if ipaddress.IPv4Network(dst, strict=False).overlaps(plan.network):
            clashes.append(f"route {dst} via {dev}")
    if clashes:
        raise LabError(
            f"lab network {plan.network} clashes with this machine's own networks "
            f"({'; '.join(sorted(set(clashes)))}); choose another management network for the lab site"
        )


def link_exists(name: str, netns: str | None = None) -> bool:
    """Whether a network interface exists (in the root namespace, or in `netns`)."""
    args = ["ip", *(["-n", netns] if netns else []), "link", "show", "dev", name]
    return run(args, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    """Whether a named network namespace exists."""
    return (NETNS_DIR / name).exists()


def lab_links() -> list[str]:
    """Every interface in the root namespace whose name has the lab prefix."""
    return [
        str(link["ifname"]) for link in _links() if str(link.get("ifname", "")).startswith(PREFIX)
    ]


def lab_netns() -> list[str]:
    """Every named network namespace with the lab prefix."""
    out = run(["ip", "-j", "netns", "list"], check=False).stdout.strip()
    names = [str(n["name"]) for n in json.loads(out)] if out else []
    return [n for n in names if n.startswith(PREFIX)]


def bridge_owner() -> str | None:
    """The state dir of the lab that owns the bridge (kept in the bridge's alias), if it exists."""
    out = run(["ip", "-j", "link", "show", "dev", BRIDGE], check=False).stdout.strip()
    if not out:
        return None
    return str(json.loads(out)[0].get("ifalias", ""))


def check_owner(owner: str) -> None:
    """Fail if the lab bridge exists and belongs to a lab with another state dir."""
    current = bridge_owner()
    if current is not None and current != owner:
        raise LabError(
            f"another lab (state dir {current or 'unknown'}) is up on this machine; "
            f"take it down first with `MLSITE_LAB_DIR={current or '...'} mlsite lab down`"
        )


def ensure_bridge(plan: LabPlan, owner: str) -> None:
    """Create the lab bridge with the lab's gateway address (idempotent); `owner` marks it."""
    check_owner(owner)
    if bridge_owner() is None:
        run(["ip", "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
        run(["ip", "link", "set", BRIDGE, "alias", owner])
    cidr = f"{plan.gateway}/{plan.network.prefixlen}"
    if cidr not in run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE]).stdout:
        run(["ip", "addr", "add", cidr, "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def ensure_host_net(plan: LabPlan, host: LabHost) -> None:
    """Create the host's namespace and its veth pair on the bridge, link up (idempotent)."""
    if not netns_exists(host.netns):
        run(["ip", "netns", "add", host.netns])
    if not link_exists(host.veth):
        run(
            [
                "ip",
                "link",
                "add",
                host.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                host.netns,
            ]
        )
    run(["ip", "-n", host.netns, "link", "set", "lo", "up"])
    run(["ip", "-n", host.netns, "link", "set", "eth0", "address", host.mac])
    run(["ip", "link", "set", host.veth, "master", BRIDGE])
    configure_address(plan, host)
    set_link(host, up=True)


def configure_address(plan: LabPlan, host: LabHost) -> None:
    """Give the host its address and default route (after a crash flushed them)."""
    cidr = f"{host.address}/{plan.network.prefixlen}"
    if cidr not in run(["ip", "-n", host.netns, "-4", "-o", "addr", "show", "dev", "eth0"]).stdout:
        run(["ip", "-n", host.netns, "addr", "add", cidr, "dev", "eth0"])
    run(["ip", "-n", host.netns, "link", "set", "eth0", "up"])
    run(["ip", "-n", host.netns, "route", "replace", "default", "via", str(plan.gateway)])


def flush_addresses(host: LabHost) -> None:
    """Drop every address of the host (a powered-off machine answers for none, floating ones included)."""
    run(["ip", "-n", host.netns, "addr", "flush", "dev", "eth0"], check=False)


def set_link(host: LabHost, *, up: bool) -> None:
    """Bring the bridge side of the host's cable up or down (the host sees carrier loss)."""
    run(["ip", "link", "set", host.veth, "up" if up else "down"])


def link_is_up(host: LabHost) -> bool:
    """Whether the bridge side of the host's cable is administratively up."""
    out = run(["ip", "-j", "link", "show", "dev", host.veth], check=False).stdout.strip()
    return bool(out) and "UP" in json.loads(out)[0].get("flags", [])


def apply_partitions(plan: LabPlan, pairs: set[tuple[str, str]]) -> None:
    """Replace the bridge filter so that each pair of hosts cannot exchange any frame."""
    rules = []
    for a, b in sorted(pairs):
        va, vb = plan.host(a).veth, plan.host(b).veth
        rules += [f'iifname "{va}" oifname "{vb}" drop', f'iifname "{vb}" oifname "{va}" drop']
    remove_partitions()
    if not rules:
        return
    body = "\n".join(f"    {r}" for r in rules)
    ruleset = (
        f"table bridge {NFT_TABLE} {{\n  chain lab_forward {{\n"
        f"    type filter hook forward priority 0; policy accept;\n{body}\n  }}\n}}\n"
    )
    run(["nft", "-f", "-"], input_text=ruleset)


def remove_partitions() -> None:
    """Remove the lab's bridge filter table (no partition left)."""
    if run(["nft", "list", "table", "bridge", NFT_TABLE], check=False).returncode == 0:
        run(["nft", "delete", "table", "bridge", NFT_TABLE])


def delete_link(name: str) -> None:
    """Delete an interface if it exists."""
    if link_exists(name):
        run(["ip", "link", "del", name], check=False)


def delete_netns(name: str) -> None:
    """Delete a named network namespace if it exists."""
    if netns_exists(name):
        run(["ip", "netns", "del", name], check=False)

"""Pure renderers of the NFS pair's cluster configuration: corosync.conf and the CIB (XML).

The CIB holds, in the recommended order, one group (each member starts after the previous
one and stops before it): the RBD image as a block device, its file system, the NFS server
(nfs-ganesha, which reads the export from its configuration), and the floating IP last, so
clients reach the address only once the export is served. Fencing: one device per node,
never run on the node it fences; the first node's device waits ``delay_s`` so the two nodes
never shoot each other at once. ``stonith-enabled`` is true: without fencing, both nodes of a
split pair could mount the image at once and corrupt it.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

HEADER = "# Managed by mlsite (hosts/deploys/nfs_ha.py); local edits are overwritten.\n"
GROUP = "nfs-home"


@dataclass(frozen=True)
class FenceDevice:
    """How to fence one node."""

    node: str
    agent: str
    """``fence_ipmilan``, ``fence_redfish`` or ``fence_mlsite_lab``."""
    attributes: tuple[tuple[str, str], ...]
    """Instance attributes of the agent (address, login, password, plug...)."""
    delay_s: int = 0


def corosync_conf(
    cluster: str,
    nodes: tuple[tuple[str, str], ...],
    token_ms: int = 1000,
    witness: str | None = None,
) -> str:
    """corosync.conf for the pair: knet, crypto, wait_for_all. Quorum: with ``witness`` (the
    address of a corosync-qnetd host) a third vote from the quorum device, ``ffsplit`` (in
    a split between the nodes exactly one side gets it); without, corosync's two_node."""
    if witness:
        quorum = [
            "    device {",
            "        model: net",
            "        votes: 1",
            # ask the witness every second while a membership changes, not every 3 s
            "        timeout: 2000",
            "        sync_timeout: 4000",
            "        net {",
            f"            host: {witness}",
            "            algorithm: ffsplit",
            "            tls: off",
            "        }",
            "    }",
        ]
    else:
        quorum = ["    two_node: 1"]
    node_lines = []
    for i, (name, address) in enumerate(nodes, start=1):
        node_lines += [
            "    node {",
            f"        ring0_addr: {address}",
            f"        name: {name}",
            f"        nodeid: {i}",
            "    }",
        ]
    return (
        HEADER
        + "\n".join(
            [
                "totem {",
                "    version: 2",
                f"    cluster_name: {cluster}",
                "    transport: knet",
                "    crypto_cipher: aes256",
                "    crypto_hash: sha256",
                f"    token: {token_ms}",
                "}",
                "nodelist {",
                *node_lines,
                "}",
                "quorum {",
                "    provider: corosync_votequorum",
                *quorum,
                "    wait_for_all: 1",
                "}",
                "logging {",
                "    to_logfile: no",
                "    to_syslog: yes",
                "    timestamp: on",
                "}",
            ]
        )
        + "\n"
    )


def _nvpairs(parent: ET.Element, tag: str, ident: str, pairs: tuple[tuple[str, str], ...]) -> None:
    attrs = ET.SubElement(parent, tag, id=ident)
    for name, value in pairs:
        ET.SubElement(attrs, "nvpair", id=f"{ident}-{name}", name=name, value=value)


def _primitive(
    parent: ET.Element,
    ident: str,
    klass: str,
    kind: str,
    params: tuple[tuple[str, str], ...],
    provider: str | None = None,
    monitor_s: int = 10,
    timeout_s: int = 60,
) -> ET.Element:
    attrs = {"id": ident, "class": klass, "type": kind}
    if provider:
        attrs["provider"] = provider
    prim = ET.SubElement(parent, "primitive", attrs)
    if params:
        _nvpairs(prim, "instance_attributes", f"{ident}-params", params)
    ops = ET.SubElement(prim, "operations")
    for name, interval, timeout in (
        ("start", "0s", timeout_s),
        ("stop", "0s", timeout_s),
        ("monitor", f"{monitor_s}s", timeout_s),
    ):
        ET.SubElement(
            ops,
            "op",
            id=f"{ident}-{name}-{interval}",
            name=name,
            interval=interval,
            timeout=f"{timeout}s",
        )
    return prim


def configuration(
    *,
    rbd_unit: str,
    device: str,
    mount: str,
    floating_ip: str,
    prefix: int,
    fencing: tuple[FenceDevice, ...],
) -> ET.Element:
    """The ``<configuration>`` section of the CIB."""
    if not fencing:
        raise ValueError("refusing an NFS HA cluster without fencing devices")
    conf = ET.Element("configuration")
    props = ET.SubElement(conf, "crm_config")
    _nvpairs(
        props,
        "cluster_property_set",
        "cib-bootstrap-options",
        (
            ("stonith-enabled", "true"),
            ("no-quorum-policy", "stop"),
            ("cluster-recheck-interval", "60s"),
        ),
    )
    ET.SubElement(conf, "nodes")
    resources = ET.SubElement(conf, "resources")
    for dev in fencing:
        params = (*dev.attributes, ("pcmk_host_list", dev.node))
        if dev.delay_s:
            params = (*params, ("pcmk_delay_base", f"{dev.delay_s}s"))
        _primitive(resources, f"fence-{dev.node}", "stonith", dev.agent, params, monitor_s=60)
    group = ET.SubElement(resources, "group", id=GROUP)
    _primitive(group, "home-rbd", "systemd", rbd_unit, ())
    _primitive(
        group,
        "home-fs",
        "ocf",
        "Filesystem",
        (("device", device), ("directory", mount), ("fstype", "ext4"), ("options", "noatime")),
        provider="heartbeat",
    )
    _primitive(group, "home-nfs", "systemd", "nfs-ganesha", ())
    _primitive(
        group,
        "home-ip",
        "ocf",
        "IPaddr2",
        (("ip", floating_ip), ("cidr_netmask", str(prefix))),
        provider="heartbeat",
    )
    defaults = ET.SubElement(conf, "rsc_defaults")
    _nvpairs(defaults, "meta_attributes", "rsc-options", (("resource-stickiness", "100"),))
    constraints = ET.SubElement(conf, "constraints")
    for dev in fencing:
        ET.SubElement(
            constraints,
            "rsc_location",
            id=f"fence-{dev.node}-not-on-itself",
            rsc=f"fence-{dev.node}",
            node=dev.node,
            score="-INFINITY",
        )
    return conf


def configuration_xml(conf: ET.Element) -> str:
    """The configuration section as text (for ``cibadmin --replace --scope configuration``)."""
    ET.indent(conf)
    return ET.tostring(conf, encoding="unicode") + "\n"


def cib_xml(conf: ET.Element) -> str:
    """A whole CIB around ``conf`` (for ``crm_verify --xml-file``)."""
    cib = ET.Element(
        "cib",
        {"validate-with": "pacemaker-3.0", "admin_epoch": "0", "epoch": "1", "num_updates": "0"},
    )
    cib.append(conf)
    ET.SubElement(cib, "status")
    ET.indent(cib)
    return ET.tostring(cib, encoding="unicode") + "\n"


def ganesha_conf(
    *, directory: str, pseudo: str, clients: str, access: str, squash: str, grace_s: int = 10
) -> str:
    """ganesha.conf: one NFSv3/v4 export of ``directory`` (VFS) as ``pseudo``; a short grace
    period so clients resume quickly after a failover."""
    squash_value = {
        "root_squash": "Root_Squash",
        "no_root_squash": "No_Root_Squash",
        "all_squash": "All_Squash",
    }[squash]
    return (
        HEADER
        + "\n".join(
            [
                "NFS_CORE_PARAM {",
                "    Protocols = 3, 4;",
                "    # NFSv3 clients mount the pseudo path too (/home), as NFSv4 clients do",
                "    Mount_Path_Pseudo = true;",
                "}",
                "NFSv4 {",
                f"    Grace_Period = {grace_s};",
                f"    Lease_Lifetime = {grace_s};",
                "}",
                "EXPORT {",
                "    Export_Id = 1;",
                f"    Path = {directory};",
                f"    Pseudo = {pseudo};",
                "    Protocols = 3, 4;",
                "    Transports = TCP;",
                "    SecType = sys;",
                "    Access_Type = None;",
                f"    Squash = {squash_value};",
                "    CLIENT {",
                f"        Clients = {clients};",
                f"        Access_Type = {access.upper()};",
                "    }",
                "    FSAL {",
                "        Name = VFS;",
                "    }",
                "}",
            ]
        )
        + "\n"
    )


def rbd_unit(mode: str, spec: str) -> str:
    """mlsite-nfs-rbd.service: the image as a block device at /dev/rbd/<pool>/<image>.

    Breaks a lock left by the other node first: pacemaker starts this only on the node that
    won, after the other one was fenced."""
    return (
        HEADER
        + "\n".join(
            [
                "[Unit]",
                f"Description=RBD image {spec} as a block device (mlsite NFS homes)",
                "After=network-online.target ceph.target",
                "",
                "[Service]",
                "Type=oneshot",
                "RemainAfterExit=yes",
                f"ExecStart=/usr/local/sbin/mlsite-rbd-dev {mode} map-exclusive {spec}",
                f"ExecStop=/usr/local/sbin/mlsite-rbd-dev {mode} unmap {spec}",
                "TimeoutStartSec=120",
            ]
        )
        + "\n"
    )

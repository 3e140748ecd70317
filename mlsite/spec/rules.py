"""Cross-field rules of a site description.

Each rule inspects an already well-typed ``SiteSpec`` and yields ``Problem``s; every
problem of every rule is reported together, so one validation run shows everything to fix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from mlsite.spec.hosts import Role

if TYPE_CHECKING:
    from mlsite.spec.model import SiteSpec

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a site description."""

    path: Path
    """Where: keys and list indexes from the top of the site description."""
    message: str
    """What is wrong, the value found, and how to fix it."""


class RuleViolations(ValueError):
    """Raised by the site model when cross-field rules fail; carries every problem."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems))
        self.problems = problems


Rule = Callable[["SiteSpec"], Iterator[Problem]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    """Register a rule."""
    RULES.append(fn)
    return fn


def check(spec: SiteSpec) -> list[Problem]:
    """Run every rule and return all problems found, in a stable order."""
    return [p for r in RULES for p in r(spec)]


class Unavailable(Exception):
    """A rule read a section of the description that did not validate."""


class Missing:
    """Stands for a section that did not validate: any use of it raises ``Unavailable``, so
    a rule that needs it is skipped rather than judging the rest without it."""

    def __init__(self, section: str) -> None:
        object.__setattr__(self, "section", section)

    def _unavailable(self, *_: object) -> None:
        raise Unavailable(object.__getattribute__(self, "section"))

    def __getattr__(self, _name: str) -> None:
        self._unavailable()

    __iter__ = __len__ = __bool__ = __getitem__ = __contains__ = _unavailable


def check_partial(spec: SiteSpec) -> list[Problem]:
    """``check`` of a description some sections of which did not validate (``Missing``):
    the rules that read only valid sections run; the others are skipped whole."""
    found: list[Problem] = []
    for r in RULES:
        try:
            found.extend(list(r(spec)))
        except Unavailable:
            continue
    return found


def _host_index(spec: SiteSpec) -> dict[str, int]:
    return {h.name: i for i, h in enumerate(spec.hosts)}


@rule
def unique_hosts(spec: SiteSpec) -> Iterator[Problem]:
    seen_names: dict[str, int] = {}
    seen_addrs: dict[object, int] = {}
    for i, h in enumerate(spec.hosts):
        if h.name in seen_names:
            yield Problem(
                ("hosts", i, "name"),
                f"duplicate host name {h.name!r} (also hosts[{seen_names[h.name]}]); give each host its own name",
            )
        seen_names.setdefault(h.name, i)
        for field, addr in (("address", h.address), ("storage_address", h.storage_address)):
            if addr is None:
                continue
            if addr in seen_addrs:
                yield Problem(
                    ("hosts", i, field),
                    f"address {addr} is already used by hosts[{seen_addrs[addr]}]; every address must be unique",
                )
            seen_addrs.setdefault(addr, i)


@rule
def addresses_in_networks(spec: SiteSpec) -> Iterator[Problem]:
    nets = spec.site.networks
    for i, h in enumerate(spec.hosts):
        if h.address not in nets.management:
            yield Problem(
                ("hosts", i, "address"),
                f"{h.address} is outside the management network {nets.management}; use an address inside it or widen site.networks.management",
            )
        elif h.address in (nets.management.network_address, nets.management.broadcast_address):
            yield Problem(
                ("hosts", i, "address"),
                f"{h.address} is the network or broadcast address of {nets.management}; pick a host address",
            )
        if nets.gateway is not None and h.address == nets.gateway:
            yield Problem(
                ("hosts", i, "address"),
                f"{h.address} is the site's default gateway (site.networks.gateway); give the host another address",
            )
        if h.storage_address is not None:
            if nets.storage is None:
                yield Problem(
                    ("hosts", i, "storage_address"),
                    "a storage address needs site.networks.storage; declare the storage network or drop the address",
                )
            elif h.storage_address not in nets.storage:
                yield Problem(
                    ("hosts", i, "storage_address"),
                    f"{h.storage_address} is outside the storage network {nets.storage}",
                )


@rule
def gateway_in_management(spec: SiteSpec) -> Iterator[Problem]:
    nets = spec.site.networks
    gw = nets.gateway
    if gw is None:
        return
    if gw not in nets.management or gw in (
        nets.management.network_address,
        nets.management.broadcast_address,
    ):
        yield Problem(
            ("site", "networks", "gateway"),
            f"{gw} is not a host address of the management network {nets.management}; the default gateway must be reachable on it",
        )


@rule
def networks_disjoint(spec: SiteSpec) -> Iterator[Problem]:
    named: list[tuple[Path, IPv4Network]] = [
        (("site", "networks", "management"), spec.site.networks.management)
    ]
    if spec.site.networks.storage is not None:
        named.append((("site", "networks", "storage"), spec.site.networks.storage))
    if spec.cluster is not None:
        named.append((("cluster", "pod_cidr"), spec.cluster.pod_cidr))
        named.append((("cluster", "service_cidr"), spec.cluster.service_cidr))
    if spec.cloud.aws is not None:
        for r, region in enumerate(spec.cloud.aws.regions):
            named.append((("cloud", "aws", "regions", r, "vpc_cidr"), region.vpc_cidr))
        named.append((("cloud", "aws", "vpn", "tunnel_cidr"), spec.cloud.aws.vpn.tunnel_cidr))
    for j, (path_b, net_b) in enumerate(named):
        for path_a, net_a in named[:j]:
            if net_a.overlaps(net_b):
                yield Problem(
                    path_b,
                    f"{net_b} overlaps {'.'.join(map(str, path_a))} ({net_a}); every site, pod, service, VPC and VPN network must be disjoint",
                )


@rule
def disks(spec: SiteSpec) -> Iterator[Problem]:
    for i, h in enumerate(spec.hosts):
        seen: dict[str, int] = {}
        for d, disk in enumerate(h.disks):
            if disk.id in seen:
                yield Problem(
                    ("hosts", i, "disks", d, "id"),
                    f"disk {disk.id} is already listed as disks[{seen[disk.id]}]; list each disk once",
                )
            seen.setdefault(disk.id, d)
            if disk.wipe == "allowed" and disk.use != "ceph-osd":
                yield Problem(
                    ("hosts", i, "disks", d, "wipe"),
                    f"`wipe: allowed` is only for Ceph OSD disks (this disk's use is {disk.use}); remove it",
                )
            if disk.decommission and disk.use != "ceph-osd":
                yield Problem(
                    ("hosts", i, "disks", d, "decommission"),
                    f"`decommission` is only for Ceph OSD disks (this disk's use is {disk.use}); remove it",
                )
        if h.has(Role.CEPH_OSD) and not any(d.use == "ceph-osd" for d in h.disks):
            yield Problem(
                ("hosts", i, "roles"),
                f"host {h.name} has role ceph-osd but no disk with `use: ceph-osd`; add one or drop the role",
            )
        if not h.has(Role.CEPH_OSD) and any(d.use == "ceph-osd" for d in h.disks):
            yield Problem(
                ("hosts", i, "disks"),
                f"host {h.name} has ceph-osd disks but not the role ceph-osd; add the role",
            )


@rule
def links(spec: SiteSpec) -> Iterator[Problem]:
    for i, h in enumerate(spec.hosts):
        nic_names = [n.name for n in h.nics]
        for n, name in enumerate(nic_names):
            if name in nic_names[:n]:
                yield Problem(("hosts", i, "nics", n, "name"), f"NIC {name} is listed twice")
        used: dict[str, str] = {}
        for b, bond in enumerate(h.bonds):
            for k, port in enumerate(bond.interfaces):
                if port not in nic_names:
                    yield Problem(
                        ("hosts", i, "bonds", b, "interfaces", k),
                        f"{port} is not one of this host's nics ({', '.join(nic_names) or 'none declared'}); declare it under nics",
                    )
                elif port in used:
                    yield Problem(
                        ("hosts", i, "bonds", b, "interfaces", k),
                        f"{port} is already in bond {used[port]}; a port can be in one bond only",
                    )
                used.setdefault(port, bond.name)
            vlan_ids = [v.id for v in bond.vlans]
            for v, vid in enumerate(vlan_ids):
                if vid in vlan_ids[:v]:
                    yield Problem(
                        ("hosts", i, "bonds", b, "vlans", v, "id"),
                        f"VLAN {vid} is defined twice on {bond.name}",
                    )
        if h.management_interface is not None:
            names = nic_names + [b.name for b in h.bonds]
            if h.management_interface not in names:
                yield Problem(
                    ("hosts", i, "management_interface"),
                    f"{h.management_interface} is neither a NIC nor a bond of this host ({', '.join(names) or 'none declared'})",
                )


@rule
def bmcs(spec: SiteSpec) -> Iterator[Problem]:
    for i, h in enumerate(spec.hosts):
        if h.bmc is None:
            continue
        if h.bmc.driver == "lab" and not h.lab:
            yield Problem(
                ("hosts", i, "bmc", "driver"),
                f"driver lab fences lab hosts only, and {h.name} is not `lab: true`; use ipmi or redfish",
            )
        if h.bmc.driver != "lab":
            for field in ("address", "username", "password"):
                if getattr(h.bmc, field) is None:
                    yield Problem(
                        ("hosts", i, "bmc", field), f"a {h.bmc.driver} BMC needs `{field}`"
                    )


@rule
def role_counts(spec: SiteSpec) -> Iterator[Problem]:
    has = {role: [h.name for h in spec.hosts if h.has(role)] for role in Role}
    ceph = spec.storage.ceph
    if ceph is None:
        for role in (Role.CEPH_MON, Role.CEPH_MGR, Role.CEPH_OSD, Role.CEPH_MDS):
            if has[role]:
                yield Problem(
                    ("storage", "ceph"),
                    f"hosts {', '.join(has[role])} have role {role} but storage.ceph is not configured; add storage.ceph or drop the role",
                )
    else:
        mons = len(has[Role.CEPH_MON])
        if mons == 0:
            yield Problem(("storage", "ceph"), "Ceph needs at least one host with role ceph-mon")
        elif mons % 2 == 0:
            yield Problem(
                ("storage", "ceph"),
                f"the number of Ceph monitors must be odd (got {mons}: {', '.join(has[Role.CEPH_MON])}); add or remove a host with role ceph-mon",
            )
        elif mons < 3 and spec.site.kind == "production":
            yield Problem(
                ("storage", "ceph"),
                f"a production site needs at least 3 Ceph monitors (got {mons}); add hosts with role ceph-mon or set site.kind to single-node or lab",
            )
        for role in (Role.CEPH_MGR, Role.CEPH_OSD):
            if not has[role]:
                yield Problem(("storage", "ceph"), f"Ceph needs at least one host with role {role}")
        if ceph.cephfs is not None and not has[Role.CEPH_MDS]:
            yield Problem(
                ("storage", "ceph", "cephfs"), "CephFS needs at least one host with role ceph-mds"
            )
    if spec.registry is not None and not has[Role.REGISTRY]:
        yield Problem(("registry",), "the registry needs a host with role registry")
    if spec.registry is None and has[Role.REGISTRY]:
        yield Problem(
            ("registry",),
            f"hosts {', '.join(has[Role.REGISTRY])} have role registry but no registry is configured; add a registry section",
        )
    if spec.images and spec.registry is None:
        yield Problem(
            ("images",), "runtime images are pushed to the site registry; configure registry"
        )
    if spec.images and not has[Role.BUILD]:
        yield Problem(("images",), "building runtime images needs a host with role build")
    if spec.cluster is not None:
        cps = len(has[Role.K8S_CONTROL_PLANE])
        if cps not in (1, 3):
            yield Problem(
                ("cluster",),
                f"Kubernetes needs 1 or 3 hosts with role k8s-control-plane (got {cps})",
            )
        if not has[Role.K8S_WORKER]:
            yield Problem(("cluster",), "Kubernetes needs at least one host with role k8s-worker")
    else:
        for part in ("workspaces", "monitoring"):
            if getattr(spec, part) is not None:
                yield Problem((part,), f"{part} run on the Kubernetes cluster; configure cluster")
        if spec.cloud.aws is not None:
            yield Problem(
                ("cloud", "aws"), "cloud node groups join the Kubernetes cluster; configure cluster"
            )
    if spec.cloud.aws is not None and not has[Role.GATEWAY]:
        yield Problem(
            ("cloud", "aws", "vpn"),
            "the VPN to AWS ends on a host with role gateway; give one host that role",
        )
    if spec.databases.personal and not has[Role.DB]:
        yield Problem(
            ("databases", "personal"),
            "personal databases run on hosts with role db; give one host that role",
        )
    if (spec.storage.nfs is not None or spec.databases.personal) and ceph is None:
        where: Path = (
            ("storage", "nfs") if spec.storage.nfs is not None else ("databases", "personal")
        )
        yield Problem(where, "this part keeps its data on Ceph RBD; configure storage.ceph")


@rule
def pools(spec: SiteSpec) -> Iterator[Problem]:
    ceph = spec.storage.ceph
    if ceph is None:
        return
    # OSDs being decommissioned hold no replica once drained: they count for nothing
    live = {
        h.name: sum(1 for d in h.disks if d.use == "ceph-osd" and not d.decommission)
        for h in spec.hosts
        if h.has(Role.CEPH_OSD)
    }
    domain_size = (
        sum(1 for n in live.values() if n) if ceph.failure_domain == "host" else sum(live.values())
    )
    draining = any(d.decommission for h in spec.hosts for d in h.disks)
    names = Counter(p.name for p in ceph.pools)
    for i, pool in enumerate(ceph.pools):
        path: Path = ("storage", "ceph", "pools", i)
        if names[pool.name] > 1:
            yield Problem((*path, "name"), f"pool {pool.name} is declared {names[pool.name]} times")
        if pool.size > domain_size:
            yield Problem(
                (*path, "size"),
                f"size {pool.size} exceeds the {domain_size} {ceph.failure_domain}s in the failure domain"
                + (" once the OSDs marked `decommission` are gone" if draining else "")
                + f"; lower size or add OSD {ceph.failure_domain}s",
            )
        if pool.size > 1 and pool.min_size >= pool.size:
            yield Problem(
                (*path, "min_size"),
                f"min_size {pool.min_size} must be below size {pool.size}, or one lost replica stops writes",
            )
        if pool.size == 1 and pool.min_size != 1:
            yield Problem((*path, "min_size"), "a pool of size 1 needs min_size 1")
    if not ceph.nearfull_ratio < ceph.backfillfull_ratio < ceph.full_ratio:
        yield Problem(
            ("storage", "ceph", "nearfull_ratio"),
            f"ratios must rise: nearfull {ceph.nearfull_ratio} < backfillfull {ceph.backfillfull_ratio} < full {ceph.full_ratio}",
        )
    by_name = {p.name: p for p in ceph.pools}

    def need(path: Path, name: str, app: str) -> Iterator[Problem]:
        pool = by_name.get(name)
        if pool is None:
            yield Problem(
                path,
                f"pool {name!r} is not declared in storage.ceph.pools; declare it (application {app})",
            )
        elif pool.application != app:
            yield Problem(
                path, f"pool {name!r} has application {pool.application}, this needs {app}"
            )

    if ceph.cephfs is not None:
        yield from need(
            ("storage", "ceph", "cephfs", "metadata_pool"), ceph.cephfs.metadata_pool, "cephfs"
        )
        yield from need(("storage", "ceph", "cephfs", "data_pool"), ceph.cephfs.data_pool, "cephfs")
    if spec.storage.nfs is not None:
        yield from need(("storage", "nfs", "pool"), spec.storage.nfs.pool, "rbd")
    for d, db in enumerate(spec.databases.personal):
        yield from need(("databases", "personal", d, "pool"), db.pool, "rbd")


@rule
def nfs_witness(spec: SiteSpec) -> Iterator[Problem]:
    nfs = spec.storage.nfs
    witnesses = [i for i, h in enumerate(spec.hosts) if h.has(Role.NFS_WITNESS)]
    for n, i in enumerate(witnesses):
        path: Path = ("hosts", i, "roles")
        name = spec.hosts[i].name
        if nfs is None or nfs.mode != "ha":
            yield Problem(
                path,
                f"host {name} has role nfs-witness, which votes for an NFS HA pair; "
                "this site has none (storage.nfs mode ha): drop the role",
            )
        elif n > 0:
            yield Problem(
                path,
                f"host {name} is a second nfs-witness (first: {spec.hosts[witnesses[0]].name}); "
                "the pair takes one: drop the role from all but one host",
            )
        elif name in nfs.nodes or spec.hosts[i].has(Role.NFS):
            yield Problem(
                path,
                f"host {name} serves NFS and cannot also be its witness: the witness's "
                "vote must survive either node; give the role to a third host",
            )


@rule
def nfs(spec: SiteSpec) -> Iterator[Problem]:
    nfs = spec.storage.nfs
    if nfs is None:
        return
    index = _host_index(spec)
    base: Path = ("storage", "nfs")
    for n, node in enumerate(nfs.nodes):
        if node not in index:
            yield Problem(
                (*base, "nodes", n), f"{node!r} is not a host of this site ({', '.join(index)})"
            )
        elif not spec.hosts[index[node]].has(Role.NFS):
            yield Problem(
                (*base, "nodes", n), f"host {node} serves NFS but lacks role nfs; add the role"
            )
    if nfs.mode == "single":
        if len(nfs.nodes) != 1:
            yield Problem(
                (*base, "nodes"), f"mode single takes exactly one node (got {len(nfs.nodes)})"
            )
        return
    if len(nfs.nodes) != 2 or nfs.nodes[0] == nfs.nodes[1]:
        yield Problem(
            (*base, "nodes"), f"mode ha needs two different hosts (got {list(nfs.nodes)})"
        )
    if nfs.floating_ip is None:
        yield Problem((*base, "floating_ip"), "mode ha needs a floating_ip that clients mount")
    else:
        mgmt = spec.site.networks.management
        if nfs.floating_ip not in mgmt:
            yield Problem(
                (*base, "floating_ip"),
                f"{nfs.floating_ip} is outside the management network {mgmt}",
            )
        for i, h in enumerate(spec.hosts):
            if nfs.floating_ip in (h.address, h.storage_address):
                yield Problem(
                    (*base, "floating_ip"),
                    f"{nfs.floating_ip} is the address of host {h.name} (hosts[{i}]); the floating IP must belong to no host",
                )
    if nfs.fencing is None:
        yield Problem(
            (*base, "fencing"),
            "NFS HA without fencing is refused: two nodes that both think they are active corrupt the file system; give each node a bmc and remove `fencing: null`",
        )
    else:
        for node in nfs.nodes:
            if node in index and spec.hosts[index[node]].bmc is None:
                yield Problem(
                    ("hosts", index[node], "bmc"),
                    f"host {node} is an NFS HA node and needs a bmc to be fenced (driver ipmi, redfish or lab)",
                )


@rule
def workspaces(spec: SiteSpec) -> Iterator[Problem]:
    ws = spec.workspaces
    if ws is None:
        return
    total = sum(h.gpu_count for h in spec.hosts if h.has(Role.K8S_WORKER))
    per_host = max((h.gpu_count for h in spec.hosts if h.has(Role.K8S_WORKER)), default=0)
    if spec.cloud.aws is not None:
        groups = spec.cloud.aws.node_groups
        total += sum(g.max * g.gpus_per_instance for g in groups)
        per_host = max([per_host, *(g.gpus_per_instance for g in groups)])
    names = Counter(u.name for u in ws.users)
    uids = Counter(u.uid for u in ws.users if u.uid is not None)
    for u, user in enumerate(ws.users):
        if names[user.name] > 1:
            yield Problem(
                ("workspaces", "users", u, "name"),
                f"user {user.name} is listed {names[user.name]} times",
            )
        if user.uid is not None and uids[user.uid] > 1:
            yield Problem(
                ("workspaces", "users", u, "uid"),
                f"uid {user.uid} is used by {uids[user.uid]} users",
            )
        if user.quota.gpus > total:
            yield Problem(
                ("workspaces", "users", u, "quota", "gpus"),
                f"quota of {user.quota.gpus} GPUs exceeds the {total} GPUs of the site's workers and node groups",
            )
    images = {img.name for img in spec.images}
    pnames = Counter(p.name for p in ws.profiles)
    for p, prof in enumerate(ws.profiles):
        if pnames[prof.name] > 1:
            yield Problem(
                ("workspaces", "profiles", p, "name"),
                f"profile {prof.name} is listed {pnames[prof.name]} times",
            )
        if prof.gpus > per_host:
            yield Problem(
                ("workspaces", "profiles", p, "gpus"),
                f"{prof.gpus} GPUs do not fit on any worker (the largest has {per_host}); lower gpus or add GPUs",
            )
        if prof.image not in images:
            yield Problem(
                ("workspaces", "profiles", p, "image"),
                f"image {prof.image!r} is not one of images ({', '.join(sorted(images)) or 'none declared'})",
            )


@rule
def cloud(spec: SiteSpec) -> Iterator[Problem]:
    aws = spec.cloud.aws
    if aws is None:
        return
    regions = Counter(r.name for r in aws.regions)
    for r, region in enumerate(aws.regions):
        if regions[region.name] > 1:
            yield Problem(
                ("cloud", "aws", "regions", r, "name"), f"region {region.name} is listed twice"
            )
    groups = Counter(g.name for g in aws.node_groups)
    for g, group in enumerate(aws.node_groups):
        path: Path = ("cloud", "aws", "node_groups", g)
        if groups[group.name] > 1:
            yield Problem((*path, "name"), f"node group {group.name} is listed twice")
        if not group.min <= group.desired <= group.max:
            yield Problem(
                (*path, "desired"),
                f"need min <= desired <= max (got {group.min} <= {group.desired} <= {group.max})",
            )
        if group.on_demand_base > group.max:
            yield Problem(
                (*path, "on_demand_base"),
                f"on_demand_base {group.on_demand_base} exceeds max {group.max}",
            )
    if aws.ami.source == "custom" and aws.ami.id is None:
        yield Problem(("cloud", "aws", "ami", "id"), "source custom needs an AMI id")
    if aws.ami.source != "custom" and aws.ami.id is not None:
        yield Problem(
            ("cloud", "aws", "ami", "id"),
            "an AMI id is used only with source custom; set source: custom or remove id",
        )


@rule
def databases(spec: SiteSpec) -> Iterator[Problem]:
    names = Counter(d.name for d in spec.databases.personal)
    users = {u.name for u in spec.workspaces.users} if spec.workspaces else set()
    for d, db in enumerate(spec.databases.personal):
        if names[db.name] > 1:
            yield Problem(
                ("databases", "personal", d, "name"), f"database set {db.name} is listed twice"
            )
        for u, user in enumerate(db.users or ()):
            if user not in users:
                yield Problem(
                    ("databases", "personal", d, "users", u), f"{user!r} is not a workspace user"
                )


@rule
def registry(spec: SiteSpec) -> Iterator[Problem]:
    reg = spec.registry
    if reg is None:
        return
    ports = {reg.port: "registry.port"}
    for c, cache in enumerate(reg.caches):
        if cache.port in ports:
            yield Problem(
                ("registry", "caches", c, "port"),
                f"port {cache.port} is already taken by {ports[cache.port]}",
            )
        ports.setdefault(cache.port, f"registry.caches[{c}].port")
    if (reg.tls.certificate is None) != (reg.tls.key is None):
        yield Problem(
            ("registry", "tls"),
            "give both certificate and key, or neither (a site-CA certificate is issued)",
        )
    if not any(u.access == "push" for u in reg.users):
        yield Problem(
            ("registry", "users"), "no user may push; give at least one user `access: push`"
        )

"""A Ceph cluster from the distribution's packages: MONs, MGRs, OSDs, MDSs, pools, CephFS.

No cephadm (it pulls container images a closed site may not reach) and no LVM: each OSD is
made by ``ceph-osd --mkfs`` with BlueStore directly on the whole disk the site marks
``use: ceph-osd`` (what ``ceph-volume raw`` does underneath), the OSD's directory on the root
file system. The same path serves real disks and lab loop devices.

Keys: the first monitor (``bootstrap``) keeps the cluster's keys in its mon keyring. Every run
reads them from there (a fact) and installs them on every host; a new cluster gets fresh keys.
The cluster-wide steps (CRUSH rules, pools, ratios, CephFS) run on the bootstrap host only and
only for what the cluster does not already have, so a second apply changes nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import apt

from mlsite.hosts.deploys import ceph_daemons, ceph_pools
from mlsite.hosts.deploys.ceph_keys import ClusterKeys, cluster_keys
from mlsite.hosts.deploys.common import put_text
from mlsite.hosts.distro import UnsupportedDistribution, distro
from mlsite.hosts.params import RoleParams
from mlsite.hosts.render import ceph as render
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, Role, SiteSpec
from mlsite.storage import ceph_plan

CEPH_ROLES = (Role.CEPH_MON, Role.CEPH_MGR, Role.CEPH_OSD, Role.CEPH_MDS)


class Mon(RoleParams):
    """A monitor."""

    name: str
    address: str


class Osd(RoleParams):
    """An OSD to create on a host's disk."""

    host: str
    osd_id: int = Field(ge=0)
    device: str
    """Stable path of the whole disk."""
    uuid: str
    wipe: Literal["never", "allowed"] = "never"
    """``allowed``: signatures found on the disk are wiped first; ``never``: such a disk is
    refused and nothing on it changes."""
    device_class: str | None = None


class Pool(RoleParams):
    """A pool as it must be."""

    name: str
    application: Literal["rbd", "cephfs", "rgw"]
    size: int = Field(ge=1, le=10)
    min_size: int = Field(ge=1, le=10)
    rule: str
    pg_autoscale: Literal["on", "warn", "off"] = "on"
    pg_num: int = Field(ge=1)
    quota_bytes: int = Field(default=0, ge=0)


class CephFs(RoleParams):
    """The CephFS file system."""

    name: str
    metadata_pool: str
    data_pool: str


class Params(RoleParams):
    """Parameters of the ceph role on the cluster's hosts."""

    cluster: str = "ceph"
    """Cluster name (config file /etc/ceph/<cluster>.conf)."""
    fsid: str
    mons: tuple[Mon, ...] = Field(min_length=1)
    """Monitors (an odd count); the first is the bootstrap host."""
    mgrs: tuple[str, ...] = Field(min_length=1)
    mdss: tuple[str, ...] = ()
    osds: tuple[Osd, ...] = ()
    pools: tuple[Pool, ...] = ()
    failure_domain: Literal["host", "osd"] = "host"
    cephfs: CephFs | None = None
    public_network: str
    cluster_network: str
    nearfull_ratio: float = Field(default=0.75, gt=0, lt=1)
    backfillfull_ratio: float = Field(default=0.85, gt=0, lt=1)
    full_ratio: float = Field(default=0.92, gt=0, lt=1)
    mon_data_avail_warn_pct: int | None = Field(default=None, ge=1, le=100)
    """Warn when a monitor's disk has less free space than this. Default: Ceph's (30 %).
    Lab sites: 5, since lab monitors share this machine's disk with everything else."""
    failure_detection: Literal["ceph-default", "lab-fast"] = "ceph-default"
    """How fast a silent OSD is marked down. ``ceph-default``: Ceph's own (heartbeats every
    6 s, down after a 20 s grace that grows for laggy OSDs), which rides out a busy host
    without flapping. ``lab-fast`` (lab sites only): heartbeats every second, down after
    5 s, no grace scaling, so a crash drill waits seconds, not half a minute, for I/O to
    resume on the surviving OSDs."""
    mon_propose_interval_s: float | None = Field(default=None, gt=0, le=1)
    """How long the monitors gather map updates before committing them
    (``paxos_propose_interval``). Default: Ceph's (1 s). An RBD snapshot waits for one such
    commit (its id comes from the OSD map), up to this long: sites with personal databases,
    which snapshot the golden image for every copy, set 0.1 s."""
    client_hosts: tuple[str, ...] = ()
    """Hosts that only use the cluster (nfs, db roles): config and admin key, no daemon."""

    @property
    def bootstrap(self) -> str:
        """The host that bootstraps the cluster and runs cluster-wide commands."""
        return self.mons[0].name


PERSONAL_DB_PROPOSE_INTERVAL_S = 0.1
"""``Params.mon_propose_interval_s`` of sites with personal databases: a copy's snapshot
waits at most 0.1 s for the monitors instead of up to 1 s."""


def is_ceph_host(h: Host) -> bool:
    """Hosts of the ceph role: any Ceph daemon, or a user of RBD (nfs, db)."""
    return any(h.has(r) for r in (*CEPH_ROLES, Role.NFS, Role.DB))


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The ceph parameters of the site (pure); ``hosts`` only narrows the client hosts."""
    ceph = site.storage.ceph
    if ceph is None:
        raise ValueError("storage.ceph is not configured")
    public = str(ceph.public_network or site.site.networks.management)
    cluster = str(ceph.cluster_network or site.site.networks.storage or public)
    daemons = {h.name for h in site.hosts if any(h.has(r) for r in CEPH_ROLES)}
    return Params(
        cluster=ceph.cluster_name,
        fsid=ceph_plan.fsid(site),
        mons=tuple(Mon(name=m.name, address=m.address) for m in ceph_plan.plan_mons(site)),
        mgrs=tuple(h.name for h in site.hosts_with(Role.CEPH_MGR)),
        mdss=tuple(h.name for h in site.hosts_with(Role.CEPH_MDS)),
        osds=tuple(
            Osd(
                host=o.host,
                osd_id=o.osd_id,
                device=o.device,
                uuid=o.uuid,
                wipe=o.wipe,
                device_class=o.device_class,
            )
            for o in ceph_plan.plan_osds(site)
        ),
        pools=tuple(Pool(**vars(p)) for p in ceph_plan.plan_pools(site)),
        failure_domain=ceph.failure_domain,
        cephfs=CephFs(**ceph.cephfs.model_dump()) if ceph.cephfs else None,
        public_network=public,
        cluster_network=cluster,
        nearfull_ratio=ceph.nearfull_ratio,
        backfillfull_ratio=ceph.backfillfull_ratio,
        full_ratio=ceph.full_ratio,
        mon_data_avail_warn_pct=5 if site.is_lab else None,
        failure_detection="lab-fast" if site.is_lab else "ceph-default",
        mon_propose_interval_s=PERSONAL_DB_PROPOSE_INTERVAL_S if site.databases.personal else None,
        client_hosts=tuple(h.name for h in hosts if h.name not in daemons and is_ceph_host(h)),
    )


def packages(params: Params, name: str) -> list[str]:
    """The distribution packages the host needs for its part of the cluster."""
    wanted = ["ceph-common", "ceph-base"]
    if name in {m.name for m in params.mons}:
        wanted.append("ceph-mon")
    if name in params.mgrs:
        wanted.append("ceph-mgr")
    if any(o.host == name for o in params.osds):
        wanted.append("ceph-osd")
    if name in params.mdss:
        wanted.append("ceph-mds")
    return wanted


def refuse_unsupported_release() -> None:
    """Ceph hosts run Debian 12 or Ubuntu: Debian 13's Ceph packages (18.2.7) leave the
    cluster short of HEALTH_OK (found on lab hosts: 13 ceph-mgr modules, balancer,
    pg_autoscaler and volumes among them, fail to load, "PyO3 modules do not yet support
    subinterpreters"). Refused before anything is installed."""
    d = distro()
    if d.family == "debian" and d.major >= 13:
        raise UnsupportedDistribution(
            f"{host.name}: the ceph role does not run on Debian {d.major}: its Ceph 18.2.7 "
            "packages fail to load 13 ceph-mgr modules (PyO3 modules do not yet support "
            "subinterpreters), so the cluster never reaches HEALTH_OK; run Ceph hosts on "
            "Debian 12, Ubuntu 22.04 or Ubuntu 24.04"
        )


@deploy("ceph")
def ceph(params: Params) -> None:
    """Apply the current host's part of the Ceph cluster."""
    refuse_unsupported_release()
    keys: ClusterKeys = cluster_keys(params)
    apt.packages(
        name="Install Ceph packages",
        packages=packages(params, host.name),
        no_recommends=True,
        update=True,
        cache_time=86400,
    )
    put_text(
        f"Configure the {params.cluster} cluster",
        f"/etc/ceph/{params.cluster}.conf",
        render.ceph_conf(
            fsid=params.fsid,
            mons=tuple((m.name, m.address) for m in params.mons),
            public_network=params.public_network,
            cluster_network=params.cluster_network,
            mon_data_avail_warn_pct=params.mon_data_avail_warn_pct,
        ),
    )
    put_text(
        "Install the admin keyring",
        f"/etc/ceph/{params.cluster}.client.admin.keyring",
        keys.admin_keyring(),
        "600",
    )
    ceph_daemons.monitor(params, keys)
    ceph_daemons.manager(params)
    ceph_daemons.osds(params, keys)
    ceph_daemons.metadata_server(params)
    if host.name == params.bootstrap:
        ceph_pools.cluster_settings(params)


ROLE = RoleDeploy(
    name="ceph", deploy=ceph, params_model=Params, params_for=params_for, applies_to=is_ceph_host
)

# Run as a deploy file: pyinfra hosts/inventory.py hosts/deploys/ceph.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("ceph")

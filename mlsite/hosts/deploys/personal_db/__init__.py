"""Personal databases: a golden Postgres on an RBD image, and per-user copy-on-write copies.

This deploy prepares the db host: Postgres, the golden image (created and initialised once)
and its server, the ``mlsite-db`` tool that makes and drops copies (``mlsite db clone USER``
runs it), the unit template every copy runs under and the timer dropping expired copies.
"""

from __future__ import annotations

from importlib import resources

from pydantic import Field

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, Role, SiteSpec
from mlsite.storage import rbd_device

TOOL = "/usr/local/sbin/mlsite-db"


MOUNT_ROOT = "/srv/mlsite-db"


class DbSet(DeployParams):
    """One set of personal databases."""

    name: str
    engine_version: str
    pool: str
    golden_image: str
    golden_size_gib: int = Field(ge=1)
    users: tuple[str, ...] | None = None
    lifetime_h: int = Field(ge=1)
    max_clone_depth: int = Field(ge=1)
    port_base: int = Field(ge=1024, le=64000)


class Params(DeployParams):
    """Parameters of the personal_db role."""

    cluster: str = "ceph"
    rbd_mode: rbd_device.RbdMode = "krbd"
    """``krbd`` (rbd map) on real hosts; ``fuse`` (rbd-fuse + loop device) on lab hosts."""
    sets: tuple[DbSet, ...] = ()
    host: str
    """The db host holding every golden copy and its users' copies."""


def is_db_host(h: Host) -> bool:
    """Hosts with role db."""
    return h.has(Role.DB)


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The personal_db parameters (pure): every set lives on the first db host."""
    db_hosts = site.hosts_with(Role.DB)
    if not db_hosts:
        raise ValueError("databases.personal needs a host with role db")
    users = site.workspaces.users if site.workspaces else ()
    return Params(
        cluster=site.storage.ceph.cluster_name if site.storage.ceph else "ceph",
        rbd_mode=rbd_device.mode_for(db_hosts[0].lab),
        sets=tuple(
            DbSet(
                name=d.name,
                engine_version=d.engine_version,
                pool=d.pool,
                golden_image=d.golden_image,
                golden_size_gib=d.golden_size_gib,
                users=d.users if d.users is not None else tuple(u.name for u in users) or None,
                lifetime_h=d.lifetime_h,
                max_clone_depth=d.max_clone_depth,
                port_base=d.port_base,
            )
            for d in site.databases.personal
        ),
        host=db_hosts[0].name,
    )


def tool_text() -> str:
    """The ``mlsite-db`` script (mlsite/storage/dbtool.py)."""
    return resources.files("mlsite.storage").joinpath("dbtool.py").read_text()


DEPLOY = Deploy(
    name="personal_db",
    params_model=Params,
    params_for=params_for,
    applies_to=is_db_host,
    holds_data=True,
    component="PersonalDatabases",
)

"""Personal databases: a golden Postgres on an RBD image, and per-user copy-on-write copies.

This deploy prepares the db host: Postgres, the golden image (created and initialised once)
and its server, the ``mlsite-db`` tool that makes and drops copies (``mlsite db clone USER``
runs it), the unit template every copy runs under and the timer dropping expired copies.
"""

from __future__ import annotations

from importlib import resources

from pydantic import Field
from pyinfra.api.deploy import deploy
from pyinfra.api.facts import FactBase
from pyinfra.context import host
from pyinfra.operations import apt, server, systemd

from mlsite.hosts import operations
from mlsite.hosts.deploys.common import put_text
from mlsite.hosts.params import RoleParams
from mlsite.hosts.render import personal_db as render
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, Role, SiteSpec
from mlsite.storage import rbd_device

TOOL = "/usr/local/sbin/mlsite-db"
MOUNT_ROOT = "/srv/mlsite-db"


class DbSet(RoleParams):
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


class Params(RoleParams):
    """Parameters of the personal_db role."""

    cluster: str = "ceph"
    rbd_mode: rbd_device.RbdMode = "krbd"
    """``krbd`` (rbd map) on real hosts; ``fuse`` (rbd-fuse + loop device) on lab hosts."""
    sets: tuple[DbSet, ...] = ()
    host: str
    """The db host holding every golden copy and its users' copies."""


class RbdImages(FactBase[list[str]]):
    """Images of an RBD pool ([] when the cluster does not answer)."""

    def command(self, cluster: str, pool: str) -> str:
        return f"timeout 30 rbd --cluster {cluster} ls {pool} 2>/dev/null || true"

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


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


@deploy("personal_db")
def personal_db(params: Params) -> None:
    """Prepare the db host: golden copies, their servers, the copy tool and the expiry timer."""
    if host.name != params.host or not params.sets:
        return
    versions = sorted({s.engine_version for s in params.sets})
    apt.packages(
        name="Install Postgres and the RBD tools",
        packages=[
            *(f"postgresql-{v}" for v in versions),
            "ceph-common",
            "python3-rbd",  # mlsite-db snapshots and clones over one cluster connection
            "e2fsprogs",
            *(["rbd-fuse"] if params.rbd_mode == "fuse" else []),
        ],
        no_recommends=True,
        update=True,
        cache_time=86400,
    )
    put_text("Install mlsite-rbd-dev", rbd_device.PATH, rbd_device.script(), "755")
    put_text("Install mlsite-db", TOOL, tool_text(), "755")
    units = [
        put_text(
            "Install mlsite-db@.service", "/etc/systemd/system/mlsite-db@.service", render.db_unit()
        ),
        put_text(
            "Install mlsite-db-expire@.service",
            "/etc/systemd/system/mlsite-db-expire@.service",
            render.expire_service(),
        ),
        put_text(
            "Install mlsite-db-expire@.timer",
            "/etc/systemd/system/mlsite-db-expire@.timer",
            render.expire_timer(),
        ),
    ]
    if any(u.will_change for u in units):
        systemd.daemon_reload(name="Reload systemd units")
    for db in params.sets:
        _golden(params, db)


def _golden(params: Params, db: DbSet) -> None:
    golden = f"{db.name}-golden"
    mount = f"{MOUNT_ROOT}/{golden}"
    mode, spec = params.rbd_mode, f"{db.pool}/{db.golden_image}"
    put_text(
        f"Configure the {db.name} set",
        f"/etc/mlsite-db/{db.name}.json",
        render.set_config(
            {**db.model_dump(mode="json"), "cluster": params.cluster, "rbd_mode": mode}
        ),
    )
    put_text(
        f"Describe the {db.name} golden copy",
        f"/etc/mlsite-db/{golden}.env",
        render.golden_env(db.pool, db.golden_image, mount, db.port_base, mode, db.engine_version),
    )
    if db.golden_image not in host.get_fact(RbdImages, cluster=params.cluster, pool=db.pool):
        pg = f"/usr/lib/postgresql/{db.engine_version}/bin"
        server.shell(
            name=f"Create the golden image {spec} and its empty database (once)",
            commands=[
                f"rbd --cluster {params.cluster} create --size {db.golden_size_gib}G {spec}",
                f"mkfs.ext4 -q -E nodiscard -L {db.name[:16]} $({rbd_device.PATH} {mode} map {spec})",
                f"{rbd_device.PATH} {mode} mount {spec} {mount}",
                f"install -d -o postgres -g postgres -m 700 {mount}/data",
                f"runuser -u postgres -- {pg}/initdb -D {mount}/data -E UTF8 "
                "--auth-local=peer --auth-host=scram-sha-256 >/dev/null",
                f"{rbd_device.PATH} {mode} umount {spec} {mount}",
            ],
        )
    operations.service(
        name=f"Run the {db.name} golden database",
        service=f"mlsite-db@{golden}",
        running=True,
        enabled=True,
    )
    operations.service(
        name=f"Drop expired {db.name} copies every ten minutes",
        service=f"mlsite-db-expire@{db.name}.timer",
        running=True,
        enabled=True,
    )


ROLE = RoleDeploy(
    name="personal_db",
    deploy=personal_db,
    params_model=Params,
    params_for=params_for,
    applies_to=is_db_host,
)

if "__name__" not in globals():  # run as a deploy file
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("personal_db")

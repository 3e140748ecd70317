"""The pyinfra half of the ``personal_db`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.personal_db``.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.api.facts import FactBase
from pyinfra.context import host
from pyinfra.operations import apt, server, systemd

from mlsite.hosts import notices, operations
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.personal_db import MOUNT_ROOT, TOOL, DbSet, Params, render, tool_text
from mlsite.storage import rbd_device


class RbdImages(FactBase[list[str]]):
    """Images of an RBD pool ([] when the cluster does not answer)."""

    def command(self, cluster: str, pool: str) -> str:
        return f"timeout 30 rbd --cluster {cluster} ls {pool} 2>/dev/null || true"

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


class ConfiguredSets(FactBase[list[str]]):
    """The database sets configured on this host (``/etc/mlsite-db/<set>.json``)."""

    def command(self) -> str:
        return "ls /etc/mlsite-db 2>/dev/null || true"

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return [n.removesuffix(".json") for n in output if n.strip().endswith(".json")]


@deploy("personal_db")
def personal_db(params: Params) -> None:
    """Prepare the db host: golden copies, their servers, the copy tool and the expiry timer."""
    if host.name != params.host:
        return
    described = {s.name for s in params.sets}
    configured: list[str] = host.get_fact(ConfiguredSets)
    for name in sorted(set(configured) - described):
        notices.notice(
            f"database set {name} is no longer described: its golden copy, the users' copies "
            "and their servers stay as they are, with their data"
        )
    if not params.sets:
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


if "__name__" not in globals():  # run as a deploy file
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.personal_db import DEPLOY

    run_deploy_file(DEPLOY)

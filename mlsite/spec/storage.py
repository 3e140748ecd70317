"""Shared storage: Ceph, NFS homes, personal database copies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from mlsite.spec.base import IpAddress, IpNetwork, Model, Name, PositiveInt

Ratio = Annotated[float, Field(gt=0.0, lt=1.0)]
PoolName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")]


class Pool(Model):
    """A Ceph pool."""

    name: PoolName
    """Pool name, unique in the cluster."""
    application: Literal["rbd", "cephfs", "rgw"]
    """What the pool stores: RBD images, CephFS data/metadata or RADOS gateway objects."""
    size: Annotated[int, Field(ge=1, le=10)] = 3
    """Replicas. Default: 3. Must not exceed the hosts (or OSDs) in the failure domain."""
    min_size: Annotated[int, Field(ge=1, le=10)] = 2
    """Replicas needed to accept writes. Default: 2. Must be below ``size`` (except size 1)."""
    pg_autoscale: Literal["on", "warn", "off"] = "on"
    """PG autoscaler mode. Default: on."""
    quota_gib: PositiveInt | None = None
    """Pool quota in GiB. Default: none (bounded only by the full ratio)."""


class CephFs(Model):
    """A CephFS file system (needs at least one host with role ceph-mds)."""

    name: Name = "cephfs"
    """File system name. Default: cephfs."""
    metadata_pool: PoolName = "cephfs_metadata"
    """Metadata pool (application cephfs), declared in ``pools``. Default: cephfs_metadata."""
    data_pool: PoolName = "cephfs_data"
    """Data pool (application cephfs), declared in ``pools``. Default: cephfs_data."""


class Ceph(Model):
    """The Ceph cluster. MONs, MGRs, OSDs and MDSs come from host roles."""

    cluster_name: Name = "ceph"
    """Cluster name. Default: ceph."""
    release: Literal["pacific", "quincy", "reef", "squid"] | None = None
    """Ceph release. Default: the release the hosts' distribution ships (pinned in
    mlsite/data/versions.yaml)."""
    failure_domain: Literal["host", "osd"] = "host"
    """CRUSH failure domain for replicated pools. Default: host (replicas on different
    hosts). ``osd`` suits single-host sites only."""
    pools: tuple[Pool, ...] = ()
    """Pools. Default: none."""
    cephfs: CephFs | None = None
    """CephFS. Default: none."""
    nearfull_ratio: Ratio = 0.75
    """Usage at which Ceph warns (HEALTH_WARN). Default: 0.75, early enough to act: a full
    cluster stops every write."""
    backfillfull_ratio: Ratio = 0.85
    """Usage above which an OSD refuses backfill. Default: 0.85."""
    full_ratio: Ratio = 0.92
    """Usage at which Ceph stops writes. Default: 0.92."""
    public_network: IpNetwork | None = None
    """Client-facing network. Default: the site's management network."""
    cluster_network: IpNetwork | None = None
    """Replication network. Default: the site's storage network, else the public network."""


class NfsExport(Model):
    """Options of the exported home file system."""

    path: Annotated[str, StringConstraints(pattern=r"^/[^\s]*$")] = "/home"
    """Exported path (also where clients mount it). Default: /home."""
    clients: IpNetwork | None = None
    """Network allowed to mount. Default: the site's management network."""
    access: Literal["rw", "ro"] = "rw"
    """Access mode. Default: rw."""
    squash: Literal["root_squash", "no_root_squash", "all_squash"] = "root_squash"
    """Root squashing. Default: root_squash."""
    sync: Literal[True] = True
    """Acknowledge writes only once they are on stable storage: always. NFS-Ganesha, which
    serves the export, commits what a client asks to be stable before it answers and has no
    asynchronous mode, and an acknowledged write must survive a failover; ``false`` is
    refused."""

    @field_validator("sync", mode="before")
    @classmethod
    def _only_sync(cls, value: object) -> object:
        if value is False:
            raise ValueError(
                "NFS homes are always exported sync (NFS-Ganesha has no asynchronous mode, "
                "and an acknowledged write must survive a failover); remove `sync: false`"
            )
        return value


class NfsFencing(Model):
    """Fencing for the NFS pair: each node's BMC is its fence device."""

    delay_s: Annotated[int, Field(ge=0, le=120)] = 10
    """Delay before fencing the first node, so two nodes never shoot each other at once.
    Default: 10 s."""


class Nfs(Model):
    """The NFS export of home directories, on a Ceph RBD image."""

    mode: Literal["ha", "single"] = "ha"
    """``ha``: active/passive pair under pacemaker with a floating IP and fencing;
    ``single``: one server. Default: ha."""
    nodes: Annotated[tuple[Name, ...], Field(min_length=1, max_length=2)]
    """Host names serving NFS (each with role nfs): two for ha, one for single."""
    floating_ip: IpAddress | None = None
    """Address clients mount, moved by pacemaker. Required for ha; must lie in the
    management network and belong to no host."""
    pool: PoolName = "rbd"
    """RBD pool (declared in storage.ceph.pools) holding the image. Default: rbd."""
    image: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")] = "home"
    """RBD image name. Default: home."""
    image_size_gib: PositiveInt = 1024
    """Size of the image in GiB (grown, never shrunk). Default: 1024."""
    export: NfsExport = NfsExport()
    """Export options. Default: /home, rw, root_squash, sync, for the management network."""
    fencing: NfsFencing | None = NfsFencing()
    """Fencing. Default: each node's BMC. Setting it to null with mode ha is refused: HA
    without fencing corrupts data when both nodes believe they are active."""


class Storage(Model):
    """Storage parts of the site."""

    ceph: Ceph | None = None
    """The Ceph cluster. Default: none (no Ceph roles may be used)."""
    nfs: Nfs | None = None
    """NFS homes. Default: none (homes stay local to each host)."""


class PersonalDatabase(Model):
    """Per-user copy-on-write copies of a golden database, cloned in seconds."""

    name: Name
    """Name of the database set, e.g. "analytics"."""
    engine: Literal["postgres"] = "postgres"
    """Database engine. Default: postgres."""
    engine_version: Annotated[str, StringConstraints(pattern=r"^\d+$")] = "15"
    """Major version of the engine. Default: 15 (Debian bookworm)."""
    pool: PoolName = "rbd"
    """RBD pool holding the golden image and the clones. Default: rbd."""
    golden_image: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")]
    """RBD image holding the golden copy's data directory."""
    golden_size_gib: PositiveInt = 100
    """Size of the golden image. Default: 100 GiB."""
    users: tuple[Name, ...] | None = None
    """Users allowed a copy. Default: every workspace user."""
    lifetime_h: Annotated[int, Field(ge=1, le=24 * 365)] = 72
    """Hours a copy lives before it is dropped. Default: 72."""
    max_clone_depth: Annotated[int, Field(ge=1, le=15)] = 8
    """Clone chain length after which a clone is flattened (the kernel client refuses
    deep chains). Default: 8."""
    port_base: Annotated[int, Field(ge=1024, le=64000)] = 15432
    """First port for users' database servers. Default: 15432."""


class Databases(Model):
    """Database services of the site."""

    personal: tuple[PersonalDatabase, ...] = ()
    """Personal database copies. Default: none."""

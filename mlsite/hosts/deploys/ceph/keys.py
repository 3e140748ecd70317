"""The cluster's bootstrap keys: read from the bootstrap monitor, or made for a new cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gevent.lock import BoundedSemaphore
from pyinfra.context import state

from mlsite.hosts.deploys.ceph.facts import CephKeyring
from mlsite.storage.keys import generate_key, keyring, parse_keyring

if TYPE_CHECKING:
    from mlsite.hosts.deploys.ceph import Params

ALL = "allow *"
ADMIN_CAPS = {"mon": ALL, "osd": ALL, "mds": ALL, "mgr": ALL}
BOOTSTRAP_OSD_CAPS = {"mon": "profile bootstrap-osd", "mgr": "allow r"}
ENTITIES = ("mon.", "client.admin", "client.bootstrap-osd")


@dataclass(frozen=True)
class ClusterKeys:
    """The keys every host of the cluster needs (secrets: written 0600, never logged)."""

    mon: str
    admin: str
    bootstrap_osd: str

    def mon_keyring(self) -> str:
        """The keyring monitors are created with: it seeds the cluster's auth database."""
        return keyring(
            {
                "mon.": (self.mon, {"mon": ALL}),
                "client.admin": (self.admin, ADMIN_CAPS),
                "client.bootstrap-osd": (self.bootstrap_osd, BOOTSTRAP_OSD_CAPS),
            }
        )

    def admin_keyring(self) -> str:
        """/etc/ceph/<cluster>.client.admin.keyring."""
        return keyring({"client.admin": (self.admin, ADMIN_CAPS)})

    def bootstrap_osd_keyring(self) -> str:
        """/var/lib/ceph/bootstrap-osd/<cluster>.keyring."""
        return keyring({"client.bootstrap-osd": (self.bootstrap_osd, BOOTSTRAP_OSD_CAPS)})


_CACHE: dict[str, ClusterKeys] = {}
_ONCE = BoundedSemaphore()
"""Hosts are prepared in parallel greenlets: only one reads (or makes) the keys."""


def mon_keyring_path(cluster: str) -> str:
    """Where monitors keep the bootstrap keyring."""
    return f"/etc/ceph/{cluster}.mon.keyring"


def cluster_keys(params: Params) -> ClusterKeys:
    """The cluster's keys: the bootstrap monitor's when it has them, else new ones (once per
    run, so every host of one run gets the same)."""
    with _ONCE:
        return _cluster_keys(params)


def _cluster_keys(params: Params) -> ClusterKeys:
    if params.fsid in _CACHE:
        return _CACHE[params.fsid]
    bootstrap = state.inventory.get_host(params.bootstrap, None)
    if bootstrap is None:
        raise LookupError(
            f"ceph: the bootstrap monitor {params.bootstrap} must be among the hosts of the run"
        )
    found = parse_keyring(bootstrap.get_fact(CephKeyring, path=mon_keyring_path(params.cluster)))
    if all(e in found for e in ENTITIES):
        keys = ClusterKeys(found["mon."], found["client.admin"], found["client.bootstrap-osd"])
    else:
        keys = ClusterKeys(generate_key(), generate_key(), generate_key())
    _CACHE[params.fsid] = keys
    return keys

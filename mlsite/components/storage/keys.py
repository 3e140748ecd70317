"""``CephKeys``: client keyrings of the Ceph cluster, read from a monitor host, as secrets.

The ceph host role makes the keys on the hosts (a new cluster gets fresh ones; they never
leave the hosts during an apply). This small dynamic resource reads the keyrings other parts
need (``client.admin``: NFS and db hosts, ceph-csi) with ``ceph auth get`` over SSH, as the
host runner logs in, and hands them back as Pulumi secrets. ``delete`` changes nothing.
"""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pulumi
from pulumi import CustomResource
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from mlsite.components.dynamic import dynamic_props
from mlsite.components.hosts.provider import HostDeployProvider, is_unknown

KEY_INPUTS = ("host", "cluster", "fsid", "entities")
SSH_TIMEOUT_S = 60


class KeyReadError(RuntimeError):
    """A keyring could not be read (the message never holds key material)."""


def ssh_argv(host: dict[str, Any], command: str) -> list[str]:
    """ssh running ``command`` on ``host`` (a runner host entry) with its key and known_hosts."""
    from mlsite.hosts.connection import known_hosts_for

    args = ["ssh", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-p", str(host["port"])]
    key = host.get("key_file")
    if key:
        args += ["-i", str(key)]
        known = known_hosts_for(Path(str(key)))
        if known is not None:
            args += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
    prefix = "" if host["user"] == "root" else "sudo -n "
    return [*args, f"{host['user']}@{host['address']}", "--", prefix + command]


def read_keyring(host: dict[str, Any], cluster: str, entity: str) -> str:
    """``ceph auth get ENTITY`` on ``host``: the keyring text."""
    proc = subprocess.run(
        ssh_argv(host, f"ceph --cluster {cluster} auth get {entity}"),
        capture_output=True,
        text=True,
        timeout=SSH_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0 or "key = " not in proc.stdout:
        # stderr only: stdout may hold key material
        raise KeyReadError(
            f"cannot read {entity} of cluster {cluster} on {host['name']}: "
            f"{proc.stderr.strip()[-300:] or f'exit {proc.returncode}'}"
        )
    return proc.stdout


class CephKeysProvider(HostDeployProvider):
    """Reads keyrings over SSH (credentials as for HostDeploy: stack config or SSH agent)."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Its own inputs (a host entry and entities), not a HostDeploy's role and params."""
        failures = []
        host = news.get("host")
        if not is_unknown(host) and not (
            isinstance(host, dict) and host.get("name") and host.get("address")
        ):
            failures.append(CheckFailure("host", "a host entry with a name and an address"))
        entities = news.get("entities")
        if not is_unknown(entities) and not (isinstance(entities, list) and entities):
            failures.append(CheckFailure("entities", "at least one Ceph entity to read"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: re-read only when the cluster, host or wanted entities change."""
        changed = [k for k in KEY_INPUTS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Read the keyrings."""
        return CreateResult(f"{props['cluster']}/{props['fsid']}", self._keys(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Read the keyrings again."""
        return UpdateResult(self._keys(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the keys the cluster has now."""
        return ReadResult(id_, self._keys(props) if props else {})

    def _keys(self, props: dict[str, Any]) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="mlsite-ssh-") as tmp:
            host = self._host(props["host"], Path(tmp))
            keyrings = {e: read_keyring(host, props["cluster"], e) for e in props["entities"]}
        return {**{k: props[k] for k in KEY_INPUTS}, "keyrings": keyrings}


class CephKeys(Resource, module="storage", name="CephKeys"):
    """Keyrings of a Ceph cluster's clients (``keyrings``: entity -> keyring text, secret)."""

    keyrings: pulumi.Output[dict[str, str]]
    """``ceph auth get`` output per entity; a secret."""

    def __init__(
        self,
        name: str,
        *,
        host: dict[str, Any],
        cluster: str,
        fsid: str,
        entities: tuple[str, ...],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "host": host,
            "cluster": cluster,
            "fsid": fsid,
            "entities": list(entities),
            "keyrings": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["keyrings"])
        )
        # What pulumi.dynamic.Resource.__init__ does, minus re-pickling the provider each time.
        CustomResource.__init__(
            self,
            f"pulumi-python:{self._resource_type_name}",
            name,
            dynamic_props(CephKeysProvider, props),
            opts,
        )

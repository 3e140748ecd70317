"""The pyinfra inventory of a site: groups by role, typed host data.

Use it directly with the pyinfra CLI, the stack chosen by ``MLSITE_STACK`` (a stack name
such as ``lab``, or the path of a stack file)::

    MLSITE_STACK=lab pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/base/apply.py

Groups: one per site role (``ceph_mon``, ``k8s_worker``, ...), plus ``gpu`` (hosts with
GPUs) and ``lab`` (lab hosts). Every host carries ``host.data.mlsite``, an ``MlsiteHostData``
with the validated site and the host's own description.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra.api.inventory import Inventory

from mlsite.hosts.connection import key_for, ssh_data
from mlsite.spec import Host, Role, SiteSpec, load_file, load_stack

STACK_ENV = "MLSITE_STACK"

Groups = dict[str, tuple[list[tuple[str, dict[str, Any]]] | list[str], dict[str, Any]]]


@dataclass(frozen=True)
class MlsiteHostData:
    """What a deploy knows about its host (``host.data.mlsite``)."""

    site: SiteSpec
    host: Host
    stack_file: Path | None


def group_name(role: Role) -> str:
    """The inventory group of a site role: ``ceph-mon`` -> ``ceph_mon``."""
    return role.value.replace("-", "_")


def inventory_groups(site: SiteSpec, stack_file: Path | None = None) -> Groups:
    """Inventory groups in pyinfra's ``(hosts, data)`` form, ``all`` included."""
    hosts = [
        (
            h.name,
            {
                **ssh_data(str(h.address), h.ssh.port, h.ssh.user, key_for(h, stack_file)),
                "mlsite": MlsiteHostData(site=site, host=h, stack_file=stack_file),
            },
        )
        for h in site.hosts
    ]
    groups: Groups = {"all": (hosts, {})}
    for role in Role:
        members = [h.name for h in site.hosts_with(role)]
        if members:
            groups[group_name(role)] = (members, {})
    gpu = [h.name for h in site.hosts if h.gpus]
    if gpu:
        groups["gpu"] = (gpu, {})
    lab = [h.name for h in site.hosts if h.lab]
    if lab:
        groups["lab"] = (lab, {})
    return groups


def build_inventory(site: SiteSpec, stack_file: Path | None = None) -> Inventory:
    """A pyinfra ``Inventory`` of the whole site (API use)."""
    groups = inventory_groups(site, stack_file)
    everyone = groups.pop("all")
    return Inventory(everyone, **groups)  # type: ignore[no-untyped-call]


def load_site(stack: str) -> tuple[SiteSpec, Path]:
    """The site of a stack name (``lab``) or stack file path, and the file it came from."""
    if stack.endswith((".yaml", ".yml")) or os.sep in stack:
        loaded = load_file(stack)
    else:
        loaded = load_stack(stack)
    return loaded.site, Path(loaded.path)


def cli_groups() -> Groups:
    """The groups of the stack named by ``MLSITE_STACK`` (the pyinfra CLI entry)."""
    stack = os.environ.get(STACK_ENV)
    if not stack:
        raise SystemExit(f"set {STACK_ENV} to a stack name (e.g. lab) or a stack file path")
    site, path = load_site(stack)
    return inventory_groups(site, path)


if "__name__" not in globals():  # executed by the pyinfra CLI as an inventory file
    # Build from the imported module, so host data has the one canonical MlsiteHostData.
    from mlsite.hosts import inventory as _inventory

    globals().update(_inventory.cli_groups())

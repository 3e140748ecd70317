"""Entry used when a deploy file runs under the pyinfra CLI (``pyinfra inventory deploy``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyinfra.context import host, inventory

from mlsite.hosts.inventory import MlsiteHostData
from mlsite.hosts.params import DeployParams

if TYPE_CHECKING:
    from mlsite.hosts.deploys import Deploy

_PARAMS: dict[tuple[str, int], DeployParams] = {}


def run_deploy_file(role: Deploy) -> None:
    """Apply the deploy ``role`` to the current host with parameters built from the site.

    Parameters are computed once per run from every inventory host the deploy applies to, as
    the runner would for the same group."""
    role_name = role.name
    data = host.data.get("mlsite")
    if not isinstance(data, MlsiteHostData):
        raise RuntimeError(
            f"{host.name}: no mlsite host data; use mlsite/hosts/inventory.py as inventory"
        )
    if not role.applies_to(data.host):
        return
    key = (role_name, id(data.site))
    if key not in _PARAMS:
        members = tuple(
            h.data.mlsite.host
            for h in inventory
            if isinstance(h.data.get("mlsite"), MlsiteHostData)
            and role.applies_to(h.data.mlsite.host)
        )
        _PARAMS[key] = role.params_for(data.site, members)
    role.function()(_PARAMS[key])

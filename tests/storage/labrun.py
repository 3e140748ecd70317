"""Apply a host role to the lab hosts through the runner, as Pulumi and `mlsite rehearse` do."""

from __future__ import annotations

from typing import Any

from mlsite.hosts.deploys import get as get_deploy
from mlsite.hosts.params import dump_params
from mlsite.hosts.runner import run
from mlsite.spec import SiteSpec, load_stack
from tests.conftest import LAB_STACK, LabSession


def lab_site() -> SiteSpec:
    """The lab stack's site description."""
    return load_stack(LAB_STACK).site


def apply_role(lab: LabSession, role_name: str, site: SiteSpec | None = None) -> dict[str, Any]:
    """Run ``role_name`` on every lab host it applies to; the runner's JSON result."""
    site = site or lab_site()
    role = get_deploy(role_name)
    hosts = tuple(h for h in site.hosts if role.applies_to(h))
    params = role.params_for(site, hosts)
    return run(
        {
            "mode": "apply",
            "role": role_name,
            "hosts": [
                {
                    "name": h.name,
                    "address": str(h.address),
                    "port": lab.host(h.name).ssh_port,
                    "user": lab.host(h.name).ssh_user,
                    "key_file": str(lab.ssh_key),
                }
                for h in hosts
            ],
            "params": dump_params(params, reveal=True),
        },
        timeout_s=1200,
    )


def changed(result: dict[str, Any]) -> int:
    """Operations that changed something, over every host."""
    return sum(int(h.get("changed", 0)) for h in result.get("hosts", {}).values())


def errors(result: dict[str, Any]) -> list[str]:
    """Every error of the run, host-prefixed."""
    found = [f"{n}: {e}" for n, h in result.get("hosts", {}).items() for e in h.get("errors", [])]
    if result.get("error"):
        found.append(str(result["error"]))
    return found

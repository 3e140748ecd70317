"""The pyinfra half of the ``monitoring_agent`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.monitoring_agent``.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host

from mlsite.hosts import operations
from mlsite.hosts.common import host_entry, put_text
from mlsite.hosts.deploys.monitoring_agent import (
    DCGM_EXPORTER_PORT,
    DCGM_UNIT,
    NODE_EXPORTER_PORT,
    Params,
    dcgm_unit,
)


@deploy("monitoring_agent")
def monitoring_agent(params: Params) -> None:
    """Install the exporters on the current host."""
    gpu = host_entry(params.gpu_exporter, host.name, "monitoring_agent")
    operations.packages(
        name="Install prometheus-node-exporter", packages=["prometheus-node-exporter"]
    )
    operations.service(
        name=f"Keep node-exporter running (:{NODE_EXPORTER_PORT})",
        service="prometheus-node-exporter",
        running=True,
        enabled=True,
    )
    if not gpu:
        return
    unit = put_text(
        "Install the DCGM exporter unit", DCGM_UNIT, dcgm_unit(params.dcgm_exporter_image)
    )
    operations.service(
        name=f"Keep the DCGM exporter running (:{DCGM_EXPORTER_PORT})",
        service="mlsite-dcgm-exporter",
        running=True,
        enabled=True,
        restarted=unit.will_change,
        daemon_reload=unit.will_change,
    )


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/monitoring_agent/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.monitoring_agent import DEPLOY

    run_deploy_file(DEPLOY)

"""Metrics exporters: prometheus-node-exporter on every host, NVIDIA's DCGM exporter on GPU
hosts (run by containerd under a systemd unit, at the pinned image)."""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host

from mlsite.hosts import operations
from mlsite.hosts.deploys.common import host_entry, put_text
from mlsite.hosts.params import RoleParams
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, SiteSpec
from mlsite.versions import pin

DCGM_UNIT = "/etc/systemd/system/mlsite-dcgm-exporter.service"
NODE_EXPORTER_PORT = 9100
DCGM_EXPORTER_PORT = 9400


class Params(RoleParams):
    """Parameters of the monitoring_agent role on a group of hosts."""

    gpu_exporter: dict[str, bool]
    """Whether each host (by name) runs the GPU exporter: hosts with GPUs, unless the site
    turns ``monitoring.gpu_exporter`` off."""
    dcgm_exporter_image: str
    """Pinned image of the DCGM exporter."""


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The monitoring agent parameters of ``hosts`` (pure)."""
    wanted = site.monitoring.gpu_exporter if site.monitoring else True
    return Params(
        gpu_exporter={h.name: wanted and bool(h.gpus) for h in hosts},
        dcgm_exporter_image=pin("dcgm_exporter_image"),
    )


def dcgm_unit(image: str) -> str:
    """systemd unit running the DCGM exporter through containerd (ctr), GPUs attached."""
    return (
        "# Managed by mlsite (hosts/deploys/monitoring_agent.py)\n"
        "[Unit]\nDescription=NVIDIA DCGM exporter (Prometheus GPU metrics)\n"
        "After=containerd.service nvidia-persistenced.service\nRequires=containerd.service\n\n"
        "[Service]\n"
        f"ExecStartPre=/usr/bin/ctr image pull {image}\n"
        "ExecStartPre=-/usr/bin/ctr task kill --signal SIGKILL mlsite-dcgm-exporter\n"
        "ExecStartPre=-/usr/bin/ctr container delete mlsite-dcgm-exporter\n"
        f"ExecStart=/usr/bin/ctr run --rm --net-host --gpus 0 --cap-add CAP_SYS_ADMIN {image} "
        "mlsite-dcgm-exporter\n"
        "ExecStop=-/usr/bin/ctr task kill --signal SIGTERM mlsite-dcgm-exporter\n"
        "Restart=on-failure\nRestartSec=10\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
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


ROLE = RoleDeploy(
    name="monitoring_agent",
    deploy=monitoring_agent,
    params_model=Params,
    params_for=params_for,
    batch_facts=True,
)

# Run as a deploy file: pyinfra hosts/inventory.py hosts/deploys/monitoring_agent.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("monitoring_agent")

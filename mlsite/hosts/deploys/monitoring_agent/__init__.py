"""Metrics exporters: prometheus-node-exporter on every host, NVIDIA's DCGM exporter on GPU
hosts (run by containerd under a systemd unit, at the pinned image)."""

from __future__ import annotations

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, SiteSpec
from mlsite.versions import pin

DCGM_UNIT = "/etc/systemd/system/mlsite-dcgm-exporter.service"


NODE_EXPORTER_PORT = 9100


DCGM_EXPORTER_PORT = 9400


class Params(DeployParams):
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


DEPLOY = Deploy(
    name="monitoring_agent",
    params_model=Params,
    params_for=params_for,
    batch_facts=True,
)

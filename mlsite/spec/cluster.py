"""Kubernetes, user workspaces and monitoring."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlsite.spec.base import IpNetwork, Model, Name, PositiveInt, Secret
from mlsite.spec.hosts import Mtu


class Flannel(Model):
    """The flannel pod network."""

    backend: Literal["vxlan", "host-gw", "wireguard"] = "vxlan"
    """Backend. Default: vxlan."""
    mtu: Mtu | None = None
    """Pod MTU. Default: the management link's MTU minus the backend's overhead."""


class RegistryMirror(Model):
    """A registry mirror configured in every node's containerd."""

    upstream: str
    """Registry host being mirrored, e.g. docker.io."""
    endpoint: str
    """Mirror URL, e.g. https://registry.site.example:5001."""


class Cluster(Model):
    """The Kubernetes cluster (kubeadm) on hosts with k8s roles."""

    kubernetes_version: Annotated[str, StringConstraints(pattern=r"^1\.\d+\.\d+$")] | None = None
    """Kubernetes version. Default: the pinned version in mlsite/data/versions.yaml."""
    pod_cidr: IpNetwork = IPv4Network("10.244.0.0/16")
    """Pod network. Default: 10.244.0.0/16."""
    service_cidr: IpNetwork = IPv4Network("10.96.0.0/12")
    """Service network. Default: 10.96.0.0/12."""
    flannel: Flannel = Flannel()
    """Pod network settings. Default: VXLAN."""
    registry_mirrors: tuple[RegistryMirror, ...] = ()
    """Extra mirrors. Default: the site registry's pull-through caches."""


class Quota(Model):
    """What one user may use at once."""

    gpus: Annotated[int, Field(ge=0)] = 1
    """GPUs. Default: 1."""
    cpus: Annotated[float, Field(gt=0)] = 8
    """CPU cores. Default: 8."""
    memory_gib: PositiveInt = 32
    """Memory in GiB. Default: 32."""


class WorkspaceUser(Model):
    """A person with a workspace."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]
    """Login name (also the home directory name)."""
    uid: Annotated[int, Field(ge=1000, le=60000)] | None = None
    """Numeric user id, the same on every host and container. Default: 2000 + position in
    this list (stable only if the list is only appended to, so pin it on real sites)."""
    ssh_keys: tuple[
        Annotated[str, StringConstraints(pattern=r"^(ssh-|ecdsa-|sk-)\S+ \S+")], ...
    ] = ()
    """Public SSH keys. Default: none (Jupyter only)."""
    quota: Quota = Quota()
    """Resource quota. Default: 1 GPU, 8 CPUs, 32 GiB."""
    home_quota_gib: PositiveInt = 200
    """Home directory quota. Default: 200 GiB."""


class Profile(Model):
    """A workspace size users pick from. Every workspace has limits: a container without
    them can freeze a whole machine."""

    name: Name
    """Profile name."""
    gpus: Annotated[int, Field(ge=0, le=16)] = 1
    """GPUs. Default: 1."""
    cpus: Annotated[float, Field(gt=0)] = 4
    """CPU limit. Default: 4."""
    memory_gib: PositiveInt = 16
    """Memory limit. Default: 16 GiB."""
    image: Name
    """Runtime image (a name from ``images``)."""


class Workspaces(Model):
    """Per-user GPU workspaces with Jupyter and SSH."""

    users: tuple[WorkspaceUser, ...] = ()
    """Users. Default: none."""
    profiles: Annotated[tuple[Profile, ...], Field(min_length=1)]
    """Workspace sizes; the first is the default."""
    idle_timeout_min: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 120
    """Minutes of inactivity after which a workspace is stopped (GPUs freed).
    Default: 120."""
    ssh: bool = True
    """Reach workspaces over SSH as well as Jupyter. Default: true."""
    privileged: Literal[False] = False
    """Workspaces never run privileged; the field exists to say so."""


class AlertReceiver(Model):
    """Where alerts go."""

    name: Name
    """Receiver name."""
    kind: Literal["email", "slack", "webhook"]
    """Transport."""
    target: Secret
    """Address or URL (a secret: webhook URLs carry tokens)."""


class Monitoring(Model):
    """Prometheus, Grafana and exporters."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Metrics retention. Default: 30 days."""
    grafana_admin_password: Secret
    """Grafana admin password (a secret)."""
    gpu_exporter: bool = True
    """Run the NVIDIA DCGM exporter on GPU hosts. Default: true."""
    receivers: tuple[AlertReceiver, ...] = ()
    """Alert receivers. Default: none (alerts visible in Grafana only)."""

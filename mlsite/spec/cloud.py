"""AWS spot GPU capacity that joins the site's cluster."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlsite.spec.base import IpNetwork, Model, Name

AwsRegionName = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]


class AwsRegion(Model):
    """A region spot capacity may come from."""

    name: AwsRegionName
    """Region, e.g. ap-northeast-1."""
    vpc_cidr: IpNetwork
    """VPC network; must overlap no other network of the site."""


class Vpn(Model):
    """The tunnel between the site's gateway host and each VPC."""

    kind: Literal["wireguard"] = "wireguard"
    """Tunnel kind. Default: WireGuard, terminated on the host with role gateway."""
    tunnel_cidr: IpNetwork = IPv4Network("10.250.0.0/24")
    """Addresses of the tunnel ends. Default: 10.250.0.0/24."""
    port: Annotated[int, Field(ge=1, le=65535)] = 51820
    """UDP port on the gateway. Default: 51820."""


class Taint(Model):
    """A Kubernetes taint."""

    key: str
    """Taint key."""
    value: str = ""
    """Taint value. Default: empty."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    """Effect. Default: NoSchedule."""


class SpotGroup(Model):
    """An autoscaled group of (mostly spot) GPU instances."""

    name: Name
    """Group name."""
    instance_types: Annotated[tuple[str, ...], Field(min_length=1)]
    """Instance types, most preferred first (several types make spot capacity likelier)."""
    min: Annotated[int, Field(ge=0)] = 0
    """Fewest instances. Default: 0 (nothing runs while on-prem GPUs suffice)."""
    desired: Annotated[int, Field(ge=0)] = 0
    """Instances at creation. Default: 0."""
    max: Annotated[int, Field(ge=0)]
    """Most instances."""
    gpus_per_instance: Annotated[int, Field(ge=0, le=16)]
    """GPUs in each instance (the autoscaler's scheduling template needs it)."""
    capacity: Literal["spot", "on_demand"] = "spot"
    """Purchase option. Default: spot."""
    on_demand_base: Annotated[int, Field(ge=0)] = 0
    """Instances bought on demand before spot is used. Default: 0."""
    priority: Annotated[int, Field(ge=0, le=100)] = 10
    """Autoscaler priority (higher is tried first). Default: 10."""
    labels: dict[str, str] = {}
    """Node labels. Default: none beyond mlsite's own."""
    taints: tuple[Taint, ...] = ()
    """Node taints. Default: none."""


class Ami(Model):
    """Which machine image spot nodes boot."""

    source: Literal["eks-optimized-gpu", "custom"] = "eks-optimized-gpu"
    """``eks-optimized-gpu``: the latest EKS GPU image for the cluster's Kubernetes minor
    version (looked up at deploy time); ``custom``: ``id``. Default: eks-optimized-gpu."""
    id: Annotated[str, StringConstraints(pattern=r"^ami-[0-9a-f]{8,17}$")] | None = None
    """AMI id, required with source custom."""


class Aws(Model):
    """AWS burst capacity."""

    regions: Annotated[tuple[AwsRegion, ...], Field(min_length=1)]
    """Regions in priority order."""
    vpn: Vpn = Vpn()
    """Tunnel to the site. Default: WireGuard."""
    node_groups: tuple[SpotGroup, ...] = ()
    """GPU node groups. Default: none."""
    ami: Ami = Ami()
    """Machine image. Default: the EKS-optimised GPU AMI."""


class Cloud(Model):
    """Cloud capacity."""

    aws: Aws | None = None
    """AWS. Default: none (on-prem only)."""

"""Generated sites of any size, for tests and benchmarks of the plan."""

from __future__ import annotations

import copy
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import yaml

from mlsite.spec import CONFIG_KEY, project_root, stack_path


def lab_site_data(root: Path | None = None) -> dict[str, Any]:
    """The site description of the lab stack, as data."""
    doc = yaml.safe_load(stack_path("lab", project_root(root)).read_text(encoding="utf-8"))
    data: dict[str, Any] = doc["config"][CONFIG_KEY]
    return data


def generated_site(hosts: int, root: Path | None = None) -> dict[str, Any]:
    """The lab site grown to ``hosts`` hosts: the three lab hosts keep their roles, every
    other host is a Kubernetes worker with one OSD disk; the network is widened to fit."""
    if hosts < 3:
        raise ValueError("a generated site has at least 3 hosts")
    data = copy.deepcopy(lab_site_data(root))
    data["site"]["networks"]["management"] = "10.77.0.0/16"
    base = IPv4Address("10.77.1.0")
    for i in range(3, hosts):
        data["hosts"].append(
            {
                "name": f"gpu-{i + 1:04d}",
                "address": str(base + i),
                "lab": True,
                "roles": ["k8s-worker", "ceph-osd"],
                "disks": [
                    {
                        "id": "/dev/disk/by-id/lab-osd-0",
                        "use": "ceph-osd",
                        "wipe": "allowed",
                        "size_gib": 10,
                    }
                ],
                "gpus": [{"model": "NVIDIA GeForce GTX 1080", "count": 4}],
            }
        )
    return data

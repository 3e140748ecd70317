"""What a site description can say that mlsite does not build yet.

``mlsite validate`` lists the parts it builds, and apart from them what the description
asks for that nothing applies yet, so a reader never takes a described part for a built
one. When a part gets built, its entry here goes (the test checks each entry is still true
of the code: no component or deploy reads what is listed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlsite.spec import SiteSpec


@dataclass(frozen=True)
class NotBuilt:
    """A part or field of the description that nothing applies yet."""

    path: str
    """Where it is in the description (``cluster``, ``storage.ceph.release``)."""
    what: str
    """What is not built, and what is (if part of it is)."""
    present: Callable[[SiteSpec], bool]
    """Whether a site's description says it."""


NOT_BUILT: tuple[NotBuilt, ...] = (
    NotBuilt(
        "cluster",
        "the Kubernetes cluster (kubeadm, control plane, workers, flannel)",
        lambda s: s.cluster is not None,
    ),
    NotBuilt(
        "workspaces",
        "Jupyter and SSH workspaces, profiles and idle culling (the users' accounts on every "
        "host are built)",
        lambda s: s.workspaces is not None,
    ),
    NotBuilt(
        "workspaces.users[].home_quota_gib",
        "home quotas",
        lambda s: s.workspaces is not None and bool(s.workspaces.users),
    ),
    NotBuilt(
        "monitoring",
        "Prometheus, Grafana and alert receivers (the hosts' node and GPU exporters and the "
        "journal retention are built)",
        lambda s: s.monitoring is not None,
    ),
    NotBuilt(
        "cloud.aws",
        "AWS spot GPU node groups and the VPN to them",
        lambda s: s.cloud.aws is not None,
    ),
)
"""Everything a description can hold that mlsite does not build yet."""


def not_built(site: SiteSpec) -> list[NotBuilt]:
    """What ``site`` describes that is not built yet, in the order above."""
    return [n for n in NOT_BUILT if n.present(site)]

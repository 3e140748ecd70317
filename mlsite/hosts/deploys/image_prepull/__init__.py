"""Pre-pull the runtime images onto GPU hosts, so a workspace starts in seconds.

A 10 GB runtime image takes minutes to pull even from the site registry; pulled ahead of
time into containerd's ``k8s.io`` namespace (the one the kubelet uses), a workspace's
container starts at once. The pull happens at host level, right after an image is pushed,
so it works before (and without) Kubernetes. Only missing images are pulled: a re-apply
changes nothing.
"""

from __future__ import annotations

from pydantic import SecretStr

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams, SecretText
from mlsite.spec import Host, Role, SiteSpec

CREDENTIALS = "/etc/mlsite/registry-pull.cred"


CERTS_D = "/etc/containerd/certs.d"


class Params(DeployParams):
    """Parameters of the image_prepull role."""

    images: tuple[str, ...]
    """Full references to pull (``<registry>:<port>/<name>:<tag>``)."""
    username: str
    """Registry user allowed to pull."""
    password: SecretText
    """That user's password (kept in a root-only file on the host, never on a command line)."""


def params_for(site: SiteSpec, hosts: tuple[Host, ...], images: tuple[str, ...] = ()) -> Params:
    """The pre-pull parameters (pure). ``images``: the references the RuntimeImage
    components pushed (their tags are content hashes, known before the push)."""
    registry = site.registry
    if registry is None or not site.hosts_with(Role.REGISTRY):
        raise LookupError("image_prepull: pre-pulling needs the site registry")
    puller = next((u for u in registry.users if u.access == "pull"), registry.users[0])
    try:
        password = puller.password.reveal()
    except LookupError:
        password = ""  # offline plan: the engine hands the decrypted value over at apply
    return Params(images=images, username=puller.name, password=SecretStr(password))


DEPLOY = Deploy(
    name="image_prepull",
    params_model=Params,
    params_for=params_for,
    applies_to=lambda h: bool(h.gpus),
    component="RuntimeImage",
)

"""Pre-pull the runtime images onto GPU hosts, so a workspace starts in seconds.

A 10 GB runtime image takes minutes to pull even from the site registry; pulled ahead of
time into containerd's ``k8s.io`` namespace (the one the kubelet uses), a workspace's
container starts at once. The pull happens at host level, right after an image is pushed,
so it works before (and without) Kubernetes. Only missing images are pulled: a re-apply
changes nothing.
"""

from __future__ import annotations

import shlex

from pydantic import SecretStr
from pyinfra.api.deploy import deploy
from pyinfra.api.facts import FactBase
from pyinfra.context import host

from mlsite.hosts.deploys.common import put_text
from mlsite.hosts.params import RoleParams, SecretText
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, Role, SiteSpec

CREDENTIALS = "/etc/mlsite/registry-pull.cred"
CERTS_D = "/etc/containerd/certs.d"


class Params(RoleParams):
    """Parameters of the image_prepull role."""

    images: tuple[str, ...]
    """Full references to pull (``<registry>:<port>/<name>:<tag>``)."""
    username: str
    """Registry user allowed to pull."""
    password: SecretText
    """That user's password (kept in a root-only file on the host, never on a command line)."""


class ContainerdImages(FactBase[list[str]]):
    """References of the images in containerd's ``k8s.io`` namespace."""

    def command(self) -> str:
        return "ctr -n k8s.io images ls -q 2>/dev/null || true"

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


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


@deploy("image_prepull")
def image_prepull(params: Params) -> None:
    """Pull every missing image into containerd on the current host."""
    put_text(
        "Registry pull credentials (root only)",
        CREDENTIALS,
        f"{params.username}:{params.password.get_secret_value()}\n",
        "600",
    )
    present = set(host.get_fact(ContainerdImages))  # type: ignore[arg-type]  # pyinfra types facts without arguments oddly
    from pyinfra.operations import server

    for ref in params.images:
        if ref in present:
            continue
        server.shell(
            name=f"Pre-pull {ref}",
            commands=[
                f"ctr -n k8s.io images pull --hosts-dir {CERTS_D} "
                f'--user "$(cat {CREDENTIALS})" {shlex.quote(ref)} >/dev/null'
            ],
        )


ROLE = RoleDeploy(
    name="image_prepull",
    deploy=image_prepull,
    params_model=Params,
    params_for=params_for,
    applies_to=lambda h: bool(h.gpus),
)

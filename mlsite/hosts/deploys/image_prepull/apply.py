"""The pyinfra half of the ``image_prepull`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.image_prepull``.
"""

from __future__ import annotations

import shlex

from pyinfra.api.deploy import deploy
from pyinfra.api.facts import FactBase
from pyinfra.context import host

from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.image_prepull import CERTS_D, CREDENTIALS, Params


class ContainerdImages(FactBase[list[str]]):
    """References of the images in containerd's ``k8s.io`` namespace."""

    def command(self) -> str:
        return "ctr -n k8s.io images ls -q 2>/dev/null || true"

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


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

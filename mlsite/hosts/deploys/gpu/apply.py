"""The pyinfra half of the ``gpu`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.gpu``.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.files import File
from pyinfra.operations import apt, files, server

from mlsite.hosts import operations
from mlsite.hosts.common import host_entry, put_text
from mlsite.hosts.deploys.gpu import (
    PREFERENCES,
    TOOLKIT_KEY,
    TOOLKIT_LIST,
    TOOLKIT_PACKAGES,
    Params,
    preferences,
)
from mlsite.hosts.distro import distro
from mlsite.hosts.facts import NvidiaGpus


@deploy("gpu")
def gpu(params: Params) -> None:
    """Install the NVIDIA stack on the current host (a GPU host)."""
    expected = host_entry(params.expected_gpus, host.name, "gpu")
    d = distro()
    arch = "x86_64"
    keyring = f"cuda-keyring_{params.cuda_keyring}_all.deb"
    apt.deb(
        name="Add NVIDIA's CUDA repository (cuda-keyring)",
        src=f"{params.cuda_repo_url}/{d.nvidia_repo}/{arch}/{keyring}",
    )
    apt.packages(name="Install gnupg (repository keys)", packages=["gnupg", "ca-certificates"])
    key = files.download(
        name="Fetch the NVIDIA container toolkit signing key",
        src=f"{params.toolkit_repo_url.rsplit('/stable', 1)[0]}/gpgkey",
        dest=f"{TOOLKIT_KEY}.asc",
    )
    if key.will_change or not host.get_fact(File, path=TOOLKIT_KEY):
        server.shell(
            name="Dearmor the container toolkit key",
            commands=[f"gpg --batch --yes --dearmor -o {TOOLKIT_KEY} {TOOLKIT_KEY}.asc"],
        )
    put_text(
        "Add the NVIDIA container toolkit repository",
        TOOLKIT_LIST,
        f"deb [signed-by={TOOLKIT_KEY}] {params.toolkit_repo_url}/amd64 /\n",
    )
    pins = put_text("Pin the NVIDIA driver and toolkit versions", PREFERENCES, preferences(params))
    apt.update(
        name="Refresh package lists (NVIDIA repositories)",
        cache_time=None if pins.will_change else 3600,
    )
    headers = "linux-headers-amd64" if d.family == "debian" else "linux-headers-generic"
    apt.packages(
        name=f"Install the NVIDIA driver {params.driver_version}",
        packages=[headers, f"cuda-drivers-{params.driver_branch}", "nvidia-persistenced"],
    )
    apt.packages(
        name=f"Install the NVIDIA container toolkit {params.toolkit_version}",
        packages=[f"{p}={params.toolkit_version}-1" for p in TOOLKIT_PACKAGES],
    )
    operations.service(
        name="Keep the NVIDIA persistence daemon running",
        service="nvidia-persistenced",
        running=True,
        enabled=True,
    )
    seen = host.get_fact(NvidiaGpus)
    if seen and len(seen) < expected:
        raise RuntimeError(
            f"{host.name}: the site lists {expected} GPUs, nvidia-smi shows {len(seen)} "
            f"({', '.join(g.name for g in seen)}); check the hardware or the site description"
        )


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/gpu/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.gpu import DEPLOY

    run_deploy_file(DEPLOY)

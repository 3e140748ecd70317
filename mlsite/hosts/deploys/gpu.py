"""NVIDIA driver and container toolkit at pinned versions, and the persistence daemon.

Only hosts with GPUs in the site description get this role (``applies_to``). Packages come
from NVIDIA's CUDA repository (Debian 12, Ubuntu 22.04/24.04) and the libnvidia-container
repository, held at the pinned versions by an apt preferences file.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.files import File
from pyinfra.operations import apt, files, server

from mlsite.hosts import operations
from mlsite.hosts.deploys.common import host_entry, put_text
from mlsite.hosts.distro import distro
from mlsite.hosts.facts import NvidiaGpus
from mlsite.hosts.params import RoleParams
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, SiteSpec
from mlsite.versions import pin

PREFERENCES = "/etc/apt/preferences.d/mlsite-nvidia"
TOOLKIT_KEY = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
TOOLKIT_LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
TOOLKIT_PACKAGES = (
    "nvidia-container-toolkit",
    "nvidia-container-toolkit-base",
    "libnvidia-container-tools",
    "libnvidia-container1",
)


class Params(RoleParams):
    """Parameters of the gpu role on a group of hosts."""

    expected_gpus: dict[str, int]
    """GPUs each host should show once the driver runs, by host name."""
    driver_version: str
    """NVIDIA driver version (pinned), e.g. 550.127.05."""
    driver_branch: str
    """Driver branch, e.g. 550 (the cuda-drivers-<branch> package)."""
    toolkit_version: str
    """NVIDIA container toolkit version (pinned)."""
    cuda_keyring: str
    """Version of NVIDIA's cuda-keyring package (adds the CUDA apt repository)."""
    cuda_repo_url: str
    toolkit_repo_url: str


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The gpu parameters of ``hosts`` (pure; versions from mlsite/data/versions.yaml)."""
    return Params(
        expected_gpus={h.name: h.gpu_count for h in hosts if h.gpus},
        driver_version=pin("nvidia", "driver"),
        driver_branch=pin("nvidia", "driver_branch"),
        toolkit_version=pin("nvidia", "container_toolkit"),
        cuda_keyring=pin("nvidia_repos", "cuda_keyring"),
        cuda_repo_url=pin("nvidia_repos", "cuda_base_url"),
        toolkit_repo_url=pin("nvidia_repos", "container_toolkit_url"),
    )


def preferences(params: Params) -> str:
    """apt pins holding the driver and toolkit at their versions."""
    return (
        "# Managed by mlsite (hosts/deploys/gpu.py)\n"
        "Package: nvidia-* libnvidia-* cuda-drivers* libcuda1 libxnvctrl0 firmware-nvidia-gsp\n"
        f"Pin: version {params.driver_version}-*\n"
        "Pin-Priority: 1001\n\n"
        f"Package: {' '.join(TOOLKIT_PACKAGES)}\n"
        f"Pin: version {params.toolkit_version}-*\n"
        "Pin-Priority: 1002\n"
    )


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


ROLE = RoleDeploy(
    name="gpu",
    deploy=gpu,
    params_model=Params,
    params_for=params_for,
    applies_to=lambda h: bool(h.gpus),
    batch_facts=True,
)

# Run as a deploy file: pyinfra hosts/inventory.py hosts/deploys/gpu.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("gpu")

"""NVIDIA driver and container toolkit at pinned versions, and the persistence daemon.

Only hosts with GPUs in the site description get this role (``applies_to``). Packages come
from NVIDIA's CUDA repository (Debian 12, Ubuntu 22.04/24.04) and the libnvidia-container
repository, held at the pinned versions by an apt preferences file.
"""

from __future__ import annotations

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams
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


class Params(DeployParams):
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


DEPLOY = Deploy(
    name="gpu",
    params_model=Params,
    params_for=params_for,
    applies_to=lambda h: bool(h.gpus),
    batch_facts=True,
)

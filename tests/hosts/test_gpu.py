"""The gpu deploy at operation level (no GPU here) and nvidia-smi parsing from samples."""

from __future__ import annotations

from mlsite.hosts.deploys import get as get_deploy
from mlsite.hosts.deploys import gpu
from mlsite.hosts.deploys.gpu import apply as gpu_apply
from mlsite.hosts.facts import NvidiaGpus, parse_nvidia_smi_csv
from mlsite.spec import SiteSpec
from mlsite.spec.hosts import Gpu
from mlsite.versions import pin
from tests.hosts.conftest import DATA
from tests.hosts.fakehost import DEBIAN_12, UBUNTU_22, UBUNTU_24, plan


def _gpu_site(site: SiteSpec) -> tuple[SiteSpec, gpu.Params]:
    hosts = (
        site.hosts[0].model_copy(update={"gpus": (Gpu(model="NVIDIA GeForce GTX 1080", count=2),)}),
    )
    return site, gpu.params_for(site, hosts)


def test_parses_recorded_nvidia_smi_output() -> None:
    gpus = parse_nvidia_smi_csv((DATA / "nvidia-smi-2x1080.csv").read_text().splitlines())
    assert [g.name for g in gpus] == ["NVIDIA GeForce GTX 1080"] * 2
    assert (
        gpus[1].memory_mib == 8192
        and gpus[0].persistence_mode
        and gpus[0].driver_version == "550.127.05"
    )


def test_parses_output_with_header_and_units() -> None:
    (a100,) = NvidiaGpus().process((DATA / "nvidia-smi-a100-header.csv").read_text().splitlines())
    assert a100.memory_mib == 81920 and not a100.persistence_mode


def test_role_skips_hosts_without_gpus(lab_site: SiteSpec) -> None:
    role = get_deploy("gpu")
    assert not any(role.applies_to(h) for h in lab_site.hosts)


def test_debian_installs_pinned_driver_and_toolkit(lab_site: SiteSpec) -> None:
    _, params = _gpu_site(lab_site)
    p = plan(gpu_apply.gpu, params, {"OsRelease": DEBIAN_12}, "lab-1")
    assert p.error is None
    assert "/debian12/x86_64/cuda-keyring_1.1-1_all.deb" in p.all_commands
    driver = p.op("gpu | Install the NVIDIA driver")
    assert (
        f"cuda-drivers-{pin('nvidia', 'driver_branch')}" in driver.text
        and "linux-headers-amd64" in driver.text
    )
    toolkit = p.op("gpu | Install the NVIDIA container toolkit")
    assert f"nvidia-container-toolkit={pin('nvidia', 'container_toolkit')}-1" in toolkit.text
    assert f"Pin: version {pin('nvidia', 'driver')}-*" in p.upload(gpu.PREFERENCES)
    assert "systemctl start nvidia-persistenced.service" in p.all_commands


def test_ubuntu_paths(lab_site: SiteSpec) -> None:
    _, params = _gpu_site(lab_site)
    for facts, repo in ((UBUNTU_22, "ubuntu2204"), (UBUNTU_24, "ubuntu2404")):
        p = plan(gpu_apply.gpu, params, {"OsRelease": facts}, "lab-1")
        assert f"/{repo}/x86_64/cuda-keyring" in p.all_commands
        assert "linux-headers-generic" in p.op("gpu | Install the NVIDIA driver").text


def test_fewer_gpus_than_described_is_an_error(lab_site: SiteSpec) -> None:
    _, params = _gpu_site(lab_site)
    one = parse_nvidia_smi_csv((DATA / "nvidia-smi-2x1080.csv").read_text().splitlines())[:1]
    p = plan(gpu_apply.gpu, params, {"OsRelease": DEBIAN_12, "NvidiaGpus": one}, "lab-1")
    assert p.error is not None and "lists 2 GPUs, nvidia-smi shows 1" in str(p.error)

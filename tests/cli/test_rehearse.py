"""The lab rehearsal's pure parts: lab secrets and the closing summary."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlsite.rehearse import env_secrets, provide_lab_secrets, where_is_what
from mlsite.spec import load_stack

ROOT = Path(__file__).resolve().parents[2]


def test_lab_secrets_are_generated_once_kept_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = load_stack("lab", ROOT).site
    names = sorted({str(s.env) for s in env_secrets(site)})
    assert "MLSITE_LAB_REGISTRY_PUSH_PASSWORD" in names
    for name in names:
        monkeypatch.delenv(name, raising=False)
    store = tmp_path / "secrets.env"
    assert sorted(provide_lab_secrets(site, store)) == names
    first = {name: os.environ[name] for name in names}
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    for name in names:
        monkeypatch.delenv(name)
    assert provide_lab_secrets(site, store) == []  # reused, not regenerated
    assert {name: os.environ[name] for name in names} == first
    assert len(set(first.values())) == len(names)


def test_secrets_already_in_the_environment_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = load_stack("lab", ROOT).site
    for s in env_secrets(site):
        monkeypatch.setenv(str(s.env), "from-env")
    assert provide_lab_secrets(site, tmp_path / "secrets.env") == []
    assert not (tmp_path / "secrets.env").exists()


def test_summary_says_where_everything_is() -> None:
    site = load_stack("lab", ROOT).site
    text = "\n".join(where_is_what(site, "10.77.0.1"))
    assert "lab-3" in text and "10.77.0.13" in text and "mlsite lab ssh lab-3" in text
    assert "registry: https://10.77.0.13:5000" in text
    assert "NFS homes: 10.77.0.100:/home" in text


def test_lab_ca_is_generated_once_with_a_private_key(tmp_path: Path) -> None:
    from mlsite.rehearse import lab_ca

    site = load_stack("lab", ROOT).site
    first = lab_ca(site, tmp_path / "ca")
    assert first.cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode) == 0o600
    assert lab_ca(site, tmp_path / "ca") == first


def test_roles_get_the_ca_they_need(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hosts.roles import get_role
    from mlsite.rehearse import lab_ca, role_params
    from mlsite.spec import Role

    site = load_stack("lab", ROOT).site
    for s in env_secrets(site):
        monkeypatch.setenv(str(s.env), "pw")
    ca = lab_ca(site, tmp_path / "ca")
    registry = role_params(get_role("registry"), site, site.hosts_with(Role.REGISTRY), ca)
    assert registry.tls.ca_cert_pem == ca.cert_pem  # type: ignore[attr-defined]
    containerd = role_params(get_role("containerd"), site, site.hosts, ca)
    assert containerd.ca_pem == ca.cert_pem  # type: ignore[attr-defined]
    builder = role_params(get_role("image_build"), site, site.hosts_with(Role.BUILD), ca)
    assert builder.ca_pem == ca.cert_pem  # type: ignore[attr-defined]

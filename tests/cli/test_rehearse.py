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


def test_summary_says_where_everything_is(tmp_path: Path) -> None:
    site = load_stack("lab", ROOT).site
    text = "\n".join(where_is_what(site, "10.77.0.1", "lab", tmp_path / "secrets.env"))
    assert "lab-3" in text and "10.77.0.13" in text and "mlsite lab ssh lab-3" in text
    assert "registry: https://10.77.0.13:5000" in text
    assert "NFS homes: 10.77.0.100:/home" in text
    assert "lab-1: bond0 rendered and validated, not activated" in text
    assert "/usr/local/share/ca-certificates/mlsite-site-ca.crt on each host" in text
    assert "personal database analytics: mlsite db clone USER --stack lab --set analytics" in text
    assert f"{tmp_path / 'secrets.env'} (mode 0600)" in text
    assert "MLSITE_LAB_REGISTRY_PUSH_PASSWORD" in text  # the names, never the values

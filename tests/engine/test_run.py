"""The engine's environment, the lab passphrase, the toolchain's choices and the language
host's program lookup (fast: no engine runs here; test_preview and test_lab_engine run it)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlsite.engine import run, toolchain
from mlsite.engine.language_host import entry_point
from mlsite.spec import load_stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLSITE_LAB_DIR", str(tmp_path / "lab"))
    for name in (*run.PASSPHRASE_VARS, "PULUMI_BACKEND_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "lab"


def test_a_lab_gets_its_own_backend_and_a_passphrase_made_once(
    lab_dir: Path, tmp_path: Path
) -> None:
    loaded = load_stack("lab", ROOT)
    stack_file = tmp_path / "Pulumi.lab.yaml"
    stack_file.write_text(loaded.path.read_text())
    env = run.engine_env(tmp_path, loaded.site, stack_file)
    assert env["PULUMI_BACKEND_URL"] == f"file://{lab_dir / 'pulumi'}"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    passphrase = Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"])
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    first = passphrase.read_text()
    assert len(first.strip()) >= 32
    again = run.engine_env(tmp_path, loaded.site, stack_file)
    assert Path(again["PULUMI_CONFIG_PASSPHRASE_FILE"]).read_text() == first


def test_a_new_lab_passphrase_drops_the_stale_salt_but_never_sealed_values(
    lab_dir: Path, tmp_path: Path
) -> None:
    loaded = load_stack("lab", ROOT)
    stack_file = tmp_path / "Pulumi.lab.yaml"
    text = loaded.path.read_text()
    stack_file.write_text("encryptionsalt: v1:AAAA:v1:BBBB:CCCC\n" + text)
    run.lab_passphrase(stack_file)
    assert stack_file.read_text() == text
    # a lab stack holding secure values under a lost passphrase is refused, file untouched
    (lab_dir / "pulumi-passphrase").unlink()
    sealed = "encryptionsalt: v1:AAAA:v1:BBBB:CCCC\n" + text + "# x: {secure: v1:a:b}\n"
    stack_file.write_text(sealed)
    with pytest.raises(run.NotAvailable, match="secure:"):
        run.lab_passphrase(stack_file)
    assert stack_file.read_text() == sealed


def test_a_real_site_needs_a_passphrase_or_another_backend(
    lab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_stack("akiba", ROOT)
    with pytest.raises(run.NotAvailable, match="PULUMI_CONFIG_PASSPHRASE"):
        run.engine_env(tmp_path, loaded.site, loaded.path)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    env = run.engine_env(tmp_path, loaded.site, loaded.path)
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path / run.STATE_DIR}"
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://site-state")
    assert run.engine_env(tmp_path, loaded.site, loaded.path)["PULUMI_BACKEND_URL"] == (
        "s3://site-state"
    )


def test_a_changed_wrapper_module_is_a_new_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSITE_TOOLS_DIR", str(tmp_path / "tools"))
    monkeypatch.setattr(toolchain, "GO_TOOLS", tmp_path / "go")
    (tmp_path / "go" / "pulumi").mkdir(parents=True)
    (tmp_path / "go" / "pulumi" / "go.mod").write_text("module a\n")
    tool = toolchain.go_tools()["pulumi"]
    first = tool.cached()
    assert first.parent.name.startswith("3.276.0-")
    assert tool.cached() == first
    (tmp_path / "go" / "pulumi" / "go.mod").write_text("module a\nrequire b v1\n")
    assert tool.cached() != first


def test_an_official_pulumi_of_the_pinned_version_on_path_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    official, other, venv = tmp_path / "official", tmp_path / "other", tmp_path / "venv"
    for d, version in ((official, "v3.276.0"), (other, "v3.100.0")):
        d.mkdir()
        (d / "pulumi").write_text(f"#!/bin/sh\necho {version}\n")
        (d / "pulumi").chmod(0o755)
    venv.mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join([str(other), str(official), "/usr/bin", "/bin"]))
    assert toolchain.pulumi_on_path(venv) == official / "pulumi"
    monkeypatch.setenv("PATH", os.pathsep.join([str(other), "/usr/bin", "/bin"]))
    assert toolchain.pulumi_on_path(venv) is None


def test_plugin_scripts_run_the_virtualenvs_python(tmp_path: Path) -> None:
    scripts = toolchain.plugin_scripts(tmp_path / "python")
    assert (
        f'exec "{tmp_path / "python"}" -u -m mlsite.engine.language_host'
        in scripts["pulumi-language-python"]
    )
    assert "-m mlsite.engine.dynamic_host" in scripts["pulumi-resource-pulumi-python"]


def test_the_language_host_runs_the_program_the_engine_names(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "prog.py").write_text("")
    info = SimpleNamespace(program_directory=str(tmp_path), entry_point=".")
    assert entry_point(SimpleNamespace(info=info)) == tmp_path / "__main__.py"
    info = SimpleNamespace(program_directory=str(tmp_path), entry_point="sub/prog.py")
    assert entry_point(SimpleNamespace(info=info)) == tmp_path / "sub" / "prog.py"
    old = SimpleNamespace(
        info=SimpleNamespace(program_directory="", entry_point=""), pwd=str(tmp_path), program="."
    )
    assert entry_point(old) == tmp_path / "__main__.py"

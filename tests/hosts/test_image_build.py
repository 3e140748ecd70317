"""The image_build role at operation level: what is uploaded, what is built, and when
nothing is (the registry already has the tag)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from mlsite import pki
from mlsite.hosts.deploys import get as get_deploy
from mlsite.hosts.deploys import image_build
from mlsite.hosts.deploys.image_build import ImageToBuild, Params
from mlsite.hosts.deploys.image_build import apply as image_build_apply
from mlsite.spec import Role, load_stack
from tests.hosts.fakehost import DEBIAN_12, plan

REGISTRY = "lab-3.lab.mlsite.test:5001"
CA = pki.ca_certificate(pki.new_ca_key(), "test CA")


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    (ctx / "hello").write_text("hello\n")
    (ctx / "run.sh").write_text("#!/bin/sh\n")
    (ctx / "run.sh").chmod(0o755)
    return ctx


def _image(ctx: Path, tag: str = "c-0123456789abcdef", **kw: object) -> ImageToBuild:
    return ImageToBuild(
        ref=f"{REGISTRY}/smoke:{tag}",
        context_dir=str(ctx),
        context=image_build.context_files(ctx),
        build_args={"BASE_IMAGE": "debian:bookworm-slim", "PACKAGE_SETS": "ml ssh"},
        **kw,  # type: ignore[arg-type]
    )


def _params(*images: ImageToBuild, ca: str | None = CA) -> Params:
    return Params(
        registry=REGISTRY,
        ca_pem=ca,
        username="ci",
        password="push-canary-9",  # type: ignore[arg-type]
        mirrors=(image_build.Mirror(upstream="docker.io", endpoint="lab-3.lab.mlsite.test:5002"),),
        images=images,
    )


def _facts(present: dict[str, bool] | None = None, fs: str = "ext4") -> dict[str, object]:
    return {"OsRelease": DEBIAN_12, "RegistryTags": present or {}, "StorageFilesystem": fs}


def test_a_missing_tag_is_uploaded_built_and_pushed_without_the_password_in_any_command(
    context: Path,
) -> None:
    p = plan(image_build_apply.image_build, _params(_image(context)), _facts())
    assert p.error is None
    build = p.op("image_build | Build and push")
    assert "buildah --storage-driver overlay build" in build.text
    assert "--isolation chroot" in build.text
    # base images from the site registry or its caches are pulled as the push user too
    assert f"build --quiet --layers --isolation chroot --authfile {image_build.AUTH_FILE}" in (
        build.text
    )
    assert "--build-arg 'PACKAGE_SETS=ml ssh'" in build.text
    assert f"push --quiet --authfile {image_build.AUTH_FILE}" in build.text
    assert "latest" not in build.text
    assert "push-canary-9" not in p.all_commands
    auth = json.loads(p.upload(image_build.AUTH_FILE))
    assert set(auth["auths"]) == {REGISTRY, "lab-3.lab.mlsite.test:5002"}
    assert "push-canary-9" in p.upload(image_build.NETRC)
    assert p.upload(f"{image_build.CERTS_D}/{REGISTRY}/ca.crt") == CA
    assert 'location = "docker.io"' in p.upload(image_build.MIRRORS_CONF)
    assert p.has("image_build | Upload the build context")


def test_a_tag_the_registry_has_is_neither_uploaded_nor_built(context: Path) -> None:
    image = _image(context)
    p = plan(
        image_build_apply.image_build, _params(image), _facts({"smoke:c-0123456789abcdef": True})
    )
    assert p.error is None
    assert not p.has("image_build | Build and push")
    assert not p.has("image_build | Upload the build context")


def test_the_registry_is_asked_for_every_tag_over_tls_with_the_netrc() -> None:
    fact = image_build_apply.RegistryTags()
    command = fact.command(REGISTRY, ("smoke:c-1", "other:c-2"))
    assert f"--netrc-file {image_build.NETRC}" in command
    assert f"--cacert {image_build.CERTS_D}/{REGISTRY}/ca.crt" in command
    assert f"https://{REGISTRY}/v2/smoke/manifests/c-1" in command
    assert fact.process(["smoke:c-1 200", "other:c-2 404", "junk"]) == {
        "smoke:c-1": True,
        "other:c-2": False,
    }


def test_latest_is_pushed_too_when_asked(context: Path) -> None:
    p = plan(image_build_apply.image_build, _params(_image(context, also_latest=True)), _facts())
    assert f"docker://{REGISTRY}/smoke:latest" in p.op("image_build | Build and push").text


def test_vfs_storage_where_the_host_itself_runs_on_overlayfs(context: Path) -> None:
    p = plan(image_build_apply.image_build, _params(_image(context)), _facts(fs="overlayfs"))
    assert "buildah --storage-driver vfs build" in p.op("image_build | Build and push").text


def test_the_context_tarball_is_deterministic_and_checked_against_the_plan(context: Path) -> None:
    image = _image(context)
    first = image_build.context_tarball(image)
    assert first == image_build.context_tarball(image)
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["Dockerfile", "hello", "run.sh"]
    assert members["run.sh"].mode == 0o755 and members["hello"].mode == 0o644
    (context / "hello").write_text("changed after planning\n")
    with pytest.raises(image_build.ContextChanged, match="plan again"):
        image_build.context_tarball(image)


def test_images_are_refused_without_the_site_ca(context: Path) -> None:
    p = plan(image_build_apply.image_build, _params(_image(context), ca=None), _facts())
    assert isinstance(p.error, ValueError) and "ca_pem" in str(p.error)
    assert not p.has("image_build | Build and push")


def test_an_image_outside_the_registry_is_refused(context: Path) -> None:
    other = _image(context).model_copy(update={"ref": "docker.io/smoke:c-1"})
    with pytest.raises(ValueError, match="not in the registry"):
        Params.model_validate({**_params().model_dump(), "password": "x", "images": [other]})


def test_the_builder_is_the_build_host_and_pushes_as_the_push_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mlsite.spec.Secret.reveal", lambda self: "canary", raising=True)
    site = load_stack("lab").site
    role = get_deploy("image_build")
    builders = tuple(h for h in site.hosts if role.applies_to(h))
    assert [h.name for h in builders] == ["lab-3"]
    params = image_build.params_for(site, builders)
    assert params.registry == REGISTRY and params.images == ()
    assert site.registry is not None
    assert params.username == next(u.name for u in site.registry.users if u.access == "push")


def test_base_images_come_through_the_caches_under_the_names_images_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mlsite.spec.Secret.reveal", lambda self: "canary", raising=True)
    site = load_stack("akiba").site  # caches: https://registry-1.docker.io, https://nvcr.io
    params = image_build.params_for(site, site.hosts_with(Role.BUILD), ca_pem=CA)
    assert [m.upstream for m in params.mirrors] == ["docker.io", "nvcr.io"]
    conf = image_build.mirrors_conf(params.mirrors)
    assert 'location = "docker.io"' in conf and "registry-1" not in conf

"""The image_build role for real: buildah on lab-3 (the lab's build host) builds an image
from a context on this machine and pushes it to the lab registry over TLS as the push user;
the registry then serves it to pull users; a re-apply builds nothing; a changed context is
a new content-hash tag, built and pushed beside the first."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlsite.components.images.context import image_tag
from mlsite.hosts.deploys import containerd, image_build, image_prepull
from mlsite.hosts.params import dump_params
from mlsite.hosts.runner import run
from mlsite.spec import Role, load_stack
from tests.conftest import LabSession
from tests.hosts.test_lab_hosts import _request
from tests.registry.labrun import registry_request

pytestmark = pytest.mark.lab

FQDN, ADDRESS, PULL = "lab-3.lab.mlsite.test", "10.77.0.13", 5000


@dataclass(frozen=True)
class Builder:
    """The lab registry as applied for this module, and how to ask the build host to build."""

    ca_file: Path
    pull: str
    push: str
    hosts: list[dict[str, Any]]
    ca_pem: str

    def request(self, *images: image_build.ImageToBuild) -> dict[str, Any]:
        site = load_stack("lab").site
        params = image_build.params_for(
            site, site.hosts_with(Role.BUILD), images=images, ca_pem=self.ca_pem
        )
        return {
            "mode": "apply",
            "role": "image_build",
            "hosts": self.hosts,
            "params": dump_params(params, reveal=True),
        }


@pytest.fixture(scope="module")
def builder(lab: LabSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builder]:
    base = _request(lab, "base", "apply")
    base["hosts"] = [h for h in base["hosts"] if h["name"] in ("lab-1", "lab-3")]
    assert run(base, timeout_s=600)["ok"]  # /etc/hosts names the registry by its FQDN
    planned = lab.host("lab-3")
    setup = registry_request(
        str(planned.address), planned.ssh_port, planned.ssh_user, str(lab.ssh_key)
    )
    applied = run(setup.request, timeout_s=600)
    assert applied["ok"], json.dumps(applied, indent=1)
    ca_file = tmp_path_factory.mktemp("image-build") / "ca.crt"
    ca_file.write_text(setup.ca_cert_pem)
    yield Builder(ca_file, setup.pull, setup.push, setup.request["hosts"], setup.ca_cert_pem)


def _context(root: Path, greeting: str) -> Path:
    root.mkdir()
    (root / "Dockerfile").write_text(
        "FROM scratch\nARG GREETING_FILE=hello\nCOPY ${GREETING_FILE} /hello\n"
        'LABEL org.opencontainers.image.title="mlsite lab build"\n'
    )
    (root / "hello").write_text(greeting)
    return root


def _image(ctx: Path) -> image_build.ImageToBuild:
    args = {"GREETING_FILE": "hello"}
    return image_build.ImageToBuild(
        ref=f"{FQDN}:5001/lab-build:{image_tag(ctx, args)}",
        context_dir=str(ctx),
        context=image_build.context_files(ctx),
        build_args=args,
    )


def _get(b: Builder, path: str, accept: str = "") -> subprocess.CompletedProcess[bytes]:
    """GET from the read-only instance as the pull user (TLS verified against the site CA)."""
    headers = ["-H", f"Accept: {accept}"] if accept else []
    tls = ["--cacert", str(b.ca_file), "--resolve", f"{FQDN}:{PULL}:{ADDRESS}"]
    url = f"https://{FQDN}:{PULL}/v2/lab-build/{path}"
    return subprocess.run(
        ["curl", "-sf", *tls, "-u", f"nodes:{b.pull}", *headers, url],
        capture_output=True,
        timeout=60,
        check=False,
    )


def _pulled_greeting(b: Builder, tag: str) -> str:
    """The /hello file of the image ``tag``, read back from the registry."""
    manifest = _get(b, f"manifests/{tag}", ", ".join(image_build.MANIFEST_TYPES))
    assert manifest.returncode == 0, manifest.stderr
    (layer,) = json.loads(manifest.stdout)["layers"]
    blob = _get(b, f"blobs/{layer['digest']}")
    assert blob.returncode == 0
    listing = subprocess.run(
        ["tar", "-xzO", "hello"], input=blob.stdout, capture_output=True, check=True
    )
    return listing.stdout.decode()


def _changed(result: dict[str, Any], host: str = "lab-3") -> list[str]:
    return [
        o["name"].split(" | ", 1)[-1] for o in result["hosts"][host]["operations"] if o["changed"]
    ]


def test_build_push_pull_and_no_rebuild(builder: Builder, tmp_path: Path) -> None:
    first = _image(_context(tmp_path / "one", "hello from the lab build host\n"))
    built = run(builder.request(first), timeout_s=900)
    assert built["ok"], json.dumps(built, indent=1)
    assert f"Build and push {first.ref}" in _changed(built)
    assert builder.push not in json.dumps(built)  # the password stays out of the result
    assert _pulled_greeting(builder, first.tag) == "hello from the lab build host\n"

    again = run(builder.request(first), timeout_s=900)
    assert again["ok"] and _changed(again) == [], _changed(again)

    second = _image(_context(tmp_path / "two", "a changed context\n"))
    assert second.tag != first.tag
    rebuilt = run(builder.request(first, second), timeout_s=900)
    assert rebuilt["ok"], json.dumps(rebuilt, indent=1)
    assert _changed(rebuilt) == [
        f"Upload the build context of {second.ref}",
        f"Build and push {second.ref}",
    ]
    assert _pulled_greeting(builder, second.tag) == "a changed context\n"
    assert _pulled_greeting(builder, first.tag) == "hello from the lab build host\n"


def test_the_pushed_image_is_pre_pulled_into_containerd_on_another_host(
    builder: Builder, lab: LabSession, tmp_path: Path
) -> None:
    """The path a workspace image takes on a real site: built and pushed on the build host,
    pulled by containerd on a worker (lab-1 stands in for a GPU host) from the read-only
    registry instance, TLS verified against the site CA, as the pull user."""
    image = _image(_context(tmp_path / "ctx", "pre-pulled on a worker\n"))
    assert run(builder.request(image), timeout_s=900)["ok"]
    site = load_stack("lab").site
    worker = tuple(h for h in site.hosts if h.name == "lab-1")
    target = lab.host("lab-1")
    hosts = [{**builder.hosts[0], "name": "lab-1", "address": str(target.address)}]

    def apply(role: str, params: Any) -> dict[str, Any]:
        request = {"mode": "apply", "role": role, "hosts": hosts}
        result = run({**request, "params": dump_params(params, reveal=True)}, timeout_s=900)
        assert result["ok"], json.dumps(result, indent=1)
        return result

    runtime = containerd.params_for(site, worker).model_copy(update={"ca_pem": builder.ca_pem})
    apply("containerd", runtime)
    ref = f"{FQDN}:{PULL}/lab-build:{image.tag}"
    prepull = image_prepull.params_for(site, worker, images=(ref,))
    pulled = apply("image_prepull", prepull)
    assert any(name.startswith("Pre-pull") for name in _changed(pulled, "lab-1"))
    assert builder.pull not in json.dumps(pulled)
    listed = lab.run("lab-1", "ctr -n k8s.io images ls -q").stdout.split()
    assert ref in listed
    assert _changed(apply("image_prepull", prepull), "lab-1") == []


def _buildah(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    store = ["--root", str(tmp / "root"), "--runroot", str(tmp / "run"), "--storage-driver", "vfs"]
    return subprocess.run(
        ["buildah", *store, *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_an_image_from_the_lab_rootfs_runs_its_build_steps_on_the_build_host(
    builder: Builder, lab: LabSession, tmp_path: Path
) -> None:
    """A base image made here from the lab's own Debian rootfs (what the lab hosts boot),
    pushed to the lab registry; the build host then builds FROM it through the registry
    (TLS, push user's credentials) with a RUN step, in buildah's chroot isolation."""
    from mlsite.lab import rootfs
    from tests.conftest import lab_test_debian

    tarball = rootfs.tarball_path(lab.lab.dirs, lab_test_debian())
    unpacked = tmp_path / "rootfs.tar"
    subprocess.run(["zstd", "-q", "-d", str(tarball), "-o", str(unpacked)], check=True)
    container = _buildah(tmp_path, "from", "scratch").stdout.strip()
    added = _buildah(tmp_path, "add", container, str(unpacked), "/")
    assert added.returncode == 0, added.stderr
    unpacked.unlink()
    _buildah(tmp_path, "config", "--cmd", "/bin/sh", container)
    assert _buildah(tmp_path, "commit", "-q", container, "localhost/lab-base").returncode == 0
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_text(builder.ca_pem)
    base = f"{ADDRESS}:5001/lab-base:{lab_test_debian()}"
    pushed = _buildah(
        tmp_path, "push", "--cert-dir", str(certs), "--creds", f"ci:{builder.push}",
        "localhost/lab-base", f"docker://{base}",
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {FQDN}:5001/lab-base:{lab_test_debian()}\n"
        "RUN useradd --create-home --uid 1000 ml && echo built-by-run > /etc/mlsite-built\n"
        "USER ml\n"
    )
    image = image_build.ImageToBuild(
        ref=f"{FQDN}:5001/lab-build:{image_tag(ctx, {})}",
        context_dir=str(ctx),
        context=image_build.context_files(ctx),
    )
    built = run(builder.request(image), timeout_s=900)
    assert built["ok"], json.dumps(built, indent=1)
    manifest = _get(builder, f"manifests/{image.tag}", ", ".join(image_build.MANIFEST_TYPES))
    top = json.loads(manifest.stdout)["layers"][-1]["digest"]  # what the RUN step wrote
    layer = _get(builder, f"blobs/{top}").stdout
    files = subprocess.run(
        ["tar", "-xzO", "etc/mlsite-built"], input=layer, capture_output=True, check=True
    )
    assert files.stdout == b"built-by-run\n"
    passwd = subprocess.run(["tar", "-xzO", "etc/passwd"], input=layer, capture_output=True)
    assert b"ml:x:1000:" in passwd.stdout

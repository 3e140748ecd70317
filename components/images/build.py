"""``ImageBuild``: build an image with buildah on the site's build host and push it.

Why buildah on the build host, over SSH: no Docker daemon is needed (a site's build host
need not run one, and this project's hosts run containerd only), it runs rootless or as
root without a socket, it speaks the registry's TLS with the site CA through
``--cert-dir``, and the build runs next to the registry instead of on the operator's
laptop. The resource is keyed by the content-hash tag: an unchanged context and unchanged
pins mean an unchanged tag, no diff, and no rebuild.

Standard library only (the engine's provider process imports this module).
"""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

import io
import shlex
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pulumi
from pulumi import CustomResource
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.dynamic import dynamic_props

INPUT_KEYS = ("host", "context_dir", "build_args", "image", "ca_cert_pem", "username")
WORKDIR = "/var/lib/mlsite-build"


class ImageBuildError(RuntimeError):
    """The build or the push failed; the message holds the tail of its output."""


def _tar(context: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(p for p in context.rglob("*") if p.is_file()):
            tar.add(path, arcname=path.relative_to(context).as_posix())
    return buf.getvalue()


def build_script(image: str, build_args: dict[str, str]) -> str:
    """The build-and-push script run on the build host (``sh -s``; no secret in it)."""
    registry = image.split("/", 1)[0]
    args = " ".join(f"--build-arg {shlex.quote(f'{k}={v}')}" for k, v in sorted(build_args.items()))
    ctx = f"{WORKDIR}/{shlex.quote(image.rsplit(':', 1)[-1])}"
    ref = shlex.quote(image)
    return f"""set -eu
buildah bud --layers --isolation chroot {args} -t {ref} {ctx}
buildah push --cert-dir {WORKDIR}/certs/{registry} --authfile {WORKDIR}/auth.json {ref} docker://{ref}
"""


class ImageBuildProvider(ResourceProvider):
    """Builds and pushes on create and when any input changes (a new tag)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Build and push."""
        self._build(props)
        return CreateResult(str(props["image"]), {**props, "pushed": str(props["image"])})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """A new context or new args: build and push the new tag."""
        self._build(news)
        return UpdateResult({**news, "pushed": str(news["image"])})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: an unchanged tag (same context, same args) is no change."""
        changed = [k for k in INPUT_KEYS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def _build(self, props: dict[str, Any]) -> None:
        host = props["host"]
        image = str(props["image"])
        registry = shlex.quote(image.split("/", 1)[0])
        ssh = ["ssh", "-o", "BatchMode=yes", "-p", str(host["port"])]
        ssh += ["-i", str(host["key_file"])] if host.get("key_file") else []
        ssh.append(f"{host['user']}@{host['address']}")
        certs = f"{WORKDIR}/certs/{registry}"
        steps: list[tuple[str, bytes]] = [
            (
                f"umask 077; mkdir -p {certs} && cat > {certs}/ca.crt",
                str(props["ca_cert_pem"]).encode(),
            ),
            (  # the password travels on stdin only, never on a command line
                f"umask 077; buildah login --authfile {WORKDIR}/auth.json --cert-dir {certs} "
                f"--username {shlex.quote(str(props['username']))} --password-stdin {registry}",
                str(props["password"]).encode(),
            ),
            (
                f"d={WORKDIR}/{shlex.quote(image.rsplit(':', 1)[-1])}; rm -rf $d && mkdir -p $d && tar x -C $d",
                _tar(Path(props["context_dir"])),
            ),
            ("sh -s", build_script(image, props["build_args"]).encode()),
        ]
        for command, data in steps:
            self._ssh([*ssh, command], data)

    @staticmethod
    def _ssh(argv: list[str], data: bytes) -> None:
        proc = subprocess.run(argv, input=data, capture_output=True, timeout=7200, check=False)
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.decode(errors="replace").splitlines()[-5:])
            raise ImageBuildError(f"image build step failed ({proc.returncode}): {tail}")


class ImageBuild(Resource, module="images", name="ImageBuild"):
    """An image built and pushed from a context; its id is the pushed reference."""

    pushed: pulumi.Output[str]
    """The pushed reference (registry/name:tag)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # What pulumi.dynamic.Resource.__init__ does, minus re-pickling the provider each time.
        CustomResource.__init__(
            self,
            f"pulumi-python:{self._resource_type_name}",
            name,
            dynamic_props(ImageBuildProvider, {**props, "pushed": None}),
            opts,
        )

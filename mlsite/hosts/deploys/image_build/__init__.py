"""Build the site's runtime images with buildah on the build host and push them to the
site registry.

Why buildah on a build host, driven by pyinfra like every other host role: a site's hosts
run containerd and no Docker daemon, buildah needs no daemon or socket, and the build runs
next to the registry instead of on the operator's laptop. The same runner, SSH connection,
host-key checking and sudo apply as for every other role.

Each image is identified by its content-hash tag (``mlsite.components.images.context``): the
registry is asked whether the tag is there, and a tag already pushed is neither uploaded
nor built again, so a re-apply with an unchanged context changes nothing. A missing tag
gets its context uploaded as one deterministic tarball, built (``buildah build``, chroot
isolation, base images pulled through the site's pull-through caches) and pushed; the
context is removed once pushed.

The push user's password sits in two root-only files on the build host (buildah's
auth.json and a netrc for the registry check) and never on a command line.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shlex
import tarfile
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams, SecretText
from mlsite.spec import Host, Role, SiteSpec
from mlsite.spec.site import ProvidedCa

WORKDIR = "/var/lib/mlsite-build"


AUTH_FILE = f"{WORKDIR}/auth.json"


NETRC = f"{WORKDIR}/netrc"


CERTS_D = "/etc/containers/certs.d"


MIRRORS_CONF = "/etc/containers/registries.conf.d/50-mlsite-mirrors.conf"


STORAGE_ROOT = "/var/lib/containers"


PROJECT_ROOT = Path(__file__).resolve().parents[4]


MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class ContextChanged(RuntimeError):
    """A build context's files no longer hash to what the plan recorded."""


class Mirror(DeployParams):
    """A pull-through cache base images are pulled through."""

    upstream: str
    """The mirrored registry's host (docker.io, nvcr.io)."""
    endpoint: str
    """The cache's ``host:port`` (TLS from the site CA)."""


class ImageToBuild(DeployParams):
    """One image: where its context is, what it is built with, where it is pushed."""

    ref: str = Field(pattern=r"^[^/\s]+/[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
    """The pushed reference, ``<registry host:port>/<name>:<content-hash tag>``."""
    context_dir: str
    """The build context: a directory on the machine that runs the deploy (Pulumi's);
    a relative path is from the mlsite project root (``images/ml-runtime``), so plans do
    not change with the checkout's location."""
    context: dict[str, str]
    """Every file of the context (path relative to it) and the sha256 of its bytes, so a
    reviewer's diff shows which file changed; checked again before the upload."""
    build_args: dict[str, str] = {}
    """``--build-arg`` values (pins, base image, package sets). No secret belongs here."""
    also_latest: bool = False
    """Also push the image as ``<name>:latest``."""

    @property
    def context_path(self) -> Path:
        """``context_dir`` as a path on this machine."""
        return PROJECT_ROOT / self.context_dir

    @property
    def repository(self) -> str:
        """``<name>``: the reference without registry and tag."""
        return self.ref.split("/", 1)[1].rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        """The content-hash tag."""
        return self.ref.rsplit(":", 1)[1]


class Params(DeployParams):
    """Parameters of the image_build role (the site's build host)."""

    registry: str
    """The registry's push endpoint, ``host:port``."""
    ca_pem: str | None = Field(default=None, pattern=r"^-----BEGIN CERTIFICATE-----")
    """The site CA certificate the registry's and caches' TLS certificates chain to.
    Default: none (the Pulumi layer hands the site CA over; needed to build images)."""
    username: str
    """A registry user with push access."""
    password: SecretText
    """That user's password (root-only files on the build host; never on a command line)."""
    mirrors: tuple[Mirror, ...] = ()
    """The registry's pull-through caches. Default: none (base images from upstream)."""
    images: tuple[ImageToBuild, ...] = ()
    """Images to build and push. Default: none (the builder is only prepared)."""

    @model_validator(mode="after")
    def _pushed_to_the_registry(self) -> Params:
        for image in self.images:
            if not image.ref.startswith(self.registry + "/"):
                raise ValueError(f"image {image.ref} is not in the registry {self.registry}")
        return self


def push_endpoint(site: SiteSpec) -> str:
    """``host:port`` of the registry's read-write instance, where images are pushed."""
    from mlsite.hosts.deploys.registry import push_port_for

    registry = site.registry
    servers = site.hosts_with(Role.REGISTRY)
    if registry is None or not servers:
        raise LookupError("image_build: building images needs the site registry")
    push = push_port_for(registry.port, {c.port for c in registry.caches})
    return f"{servers[0].name}.{site.site.domain}:{push}"


def params_for(
    site: SiteSpec,
    hosts: tuple[Host, ...],
    images: tuple[ImageToBuild, ...] = (),
    ca_pem: str | None = None,
) -> Params:
    """The builder's parameters (pure). ``images`` and ``ca_pem`` come from the RuntimeImage
    components and the Registry's site CA (default: the CA the site provides, if any)."""
    registry = site.registry
    servers = site.hosts_with(Role.REGISTRY)
    if registry is None or not servers:
        raise LookupError("image_build: building images needs the site registry")
    if ca_pem is None and isinstance(site.site.ca, ProvidedCa):
        ca_pem = site.site.ca.certificate
    pusher = next((u for u in registry.users if u.access == "push"), None)
    if pusher is None:
        raise LookupError("image_build: the registry needs a user with access: push")
    fqdn = f"{servers[0].name}.{site.site.domain}"
    try:
        password = pusher.password.reveal()
    except LookupError:
        password = ""  # offline plan: the engine hands the decrypted value over at apply
    return Params(
        registry=push_endpoint(site),
        ca_pem=ca_pem,
        username=pusher.name,
        password=SecretStr(password),
        mirrors=tuple(
            Mirror(upstream=c.namespace, endpoint=f"{fqdn}:{c.port}") for c in registry.caches
        ),
        images=images,
    )


def context_paths(context_dir: Path) -> list[tuple[str, Path]]:
    """Every file of a build context, by its path relative to the context (sorted); git's
    own files and Python caches left out."""
    found = []
    for path in sorted(p for p in context_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(context_dir).as_posix()
        if not (rel.startswith(".git/") or "__pycache__" in rel):
            found.append((rel, path))
    return found


def context_files(context_dir: Path) -> dict[str, str]:
    """Every file of a build context and the sha256 of its bytes (sorted by path)."""
    return {
        rel: hashlib.sha256(p.read_bytes()).hexdigest() for rel, p in context_paths(context_dir)
    }


def context_tarball(image: ImageToBuild) -> bytes:
    """The context as a tar with fixed owners and times (same files: same bytes), after
    checking each file still has the digest the plan recorded."""
    root = image.context_path
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, digest in sorted(image.context.items()):
            path = root / rel
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ContextChanged(f"{image.ref}: context file {path} unreadable: {exc}") from exc
            if hashlib.sha256(data).hexdigest() != digest:
                raise ContextChanged(
                    f"{image.ref}: {path} changed since the plan was made; plan again"
                )
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def auth_json(params: Params) -> str:
    """buildah's auth file: the push user for the registry and every cache."""
    token = base64.b64encode(
        f"{params.username}:{params.password.get_secret_value()}".encode()
    ).decode()
    endpoints = [params.registry, *(m.endpoint for m in params.mirrors)]
    return json.dumps({"auths": {e: {"auth": token} for e in endpoints}}, indent=1) + "\n"


def netrc(params: Params) -> str:
    """curl's credentials for the registry check."""
    machine = params.registry.rsplit(":", 1)[0]
    return (
        f"machine {machine} login {params.username} password {params.password.get_secret_value()}\n"
    )


def mirrors_conf(mirrors: tuple[Mirror, ...]) -> str:
    """containers-registries.conf(5) entries pulling each upstream through its cache."""
    blocks = [
        f'[[registry]]\nlocation = "{m.upstream}"\n\n[[registry.mirror]]\nlocation = "{m.endpoint}"\n'
        for m in mirrors
    ]
    return "# mlsite: base images come through the site registry's pull-through caches\n\n" + (
        "\n".join(blocks)
    )


def build_script(image: ImageToBuild, storage_driver: str) -> str:
    """Unpack, build, push (and tag latest), then remove the context. No secret in it."""
    q = shlex.quote
    ctx = f"{WORKDIR}/ctx-{image.tag}"
    buildah = f"buildah --storage-driver {storage_driver}"
    args = " ".join(f"--build-arg {q(f'{k}={v}')}" for k, v in sorted(image.build_args.items()))
    ref = q(image.ref)
    lines = [
        "set -eu",
        f"rm -rf {ctx} && mkdir -p {ctx} && tar -x -C {ctx} -f {ctx}.tar",
        f"{buildah} build --quiet --layers --isolation chroot --authfile {AUTH_FILE} {args} "
        f"-t {ref} {ctx} >/dev/null",
        f"{buildah} push --quiet --authfile {AUTH_FILE} {ref} docker://{ref}",
    ]
    if image.also_latest:
        latest = q(image.ref.rsplit(":", 1)[0] + ":latest")
        lines += [
            f"{buildah} tag {ref} {latest}",
            f"{buildah} push --quiet --authfile {AUTH_FILE} {latest} docker://{latest}",
        ]
    lines.append(f"rm -rf {ctx} {ctx}.tar")
    return "\n".join(lines)


def storage_driver(filesystem: str) -> str:
    """overlay, except over overlayfs (a host that is itself a container, e.g. a lab host),
    which the kernel refuses as overlay's upper layer: vfs there."""
    return "vfs" if filesystem == "overlayfs" else "overlay"


DEPLOY = Deploy(
    name="image_build",
    params_model=Params,
    params_for=params_for,
    applies_to=lambda h: Role.BUILD in h.roles,
    component="RuntimeImage",
)

"""The registry and the runtime images."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints

from mlsite.spec.base import Model, Name, Secret

Port = Annotated[int, Field(ge=1, le=65535)]


class RegistryUser(Model):
    """A user of the registry (htpasswd, bcrypt)."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]
    """User name."""
    password: Secret
    """Password (a secret)."""
    access: Literal["push", "pull"] = "pull"
    """``push`` (read and write) or ``pull`` (read only). Default: pull."""


class PullThroughCache(Model):
    """A caching proxy of an upstream registry."""

    name: Name
    """Name of the cache instance, e.g. dockerhub."""
    upstream: AnyHttpUrl
    """Upstream registry URL."""
    port: Port
    """Port the cache listens on (distinct from the registry's)."""
    username: str | None = None
    """Upstream user. Default: anonymous."""
    password: Secret | None = None
    """Upstream password (a secret). Default: anonymous."""

    @property
    def namespace(self) -> str:
        """How image references name the upstream (``docker.io/library/python``,
        ``nvcr.io/nvidia/cuda``): its host, and port when it has one; Docker Hub's API hosts
        (registry-1.docker.io, index.docker.io) are ``docker.io``. containerd
        (``certs.d/<namespace>``) and buildah (registries.conf) look mirrors up by it."""
        host = self.upstream.host or self.name
        if host in DOCKER_HUB_HOSTS:
            return "docker.io"
        return f"{host}:{self.upstream.port}" if self.upstream.port not in (None, 80, 443) else host


DOCKER_HUB_HOSTS = frozenset({"docker.io", "registry-1.docker.io", "index.docker.io"})
"""Hosts of Docker Hub's registry API; its images are named ``docker.io/...``."""


class RegistryTls(Model):
    """TLS of the registry."""

    certificate: str | None = None
    """PEM certificate chain. Default: issued by the site CA for every registry host name
    and address."""
    key: Secret | None = None
    """PEM private key (a secret). Required with ``certificate``."""


class GarbageCollection(Model):
    """Registry garbage collection; the registry is read-only while it runs."""

    schedule: str = "Sun *-*-* 03:00:00"
    """systemd OnCalendar expression. Default: Sundays at 03:00."""
    delete_untagged: bool = True
    """Also delete manifests no tag points to. Default: true."""


class Registry(Model):
    """The private image registry (CNCF distribution) on hosts with role registry."""

    port: Port = 5000
    """HTTPS port. Default: 5000."""
    tls: RegistryTls = RegistryTls()
    """TLS. Default: a certificate from the site CA."""
    users: Annotated[tuple[RegistryUser, ...], Field(min_length=1)]
    """Users; anonymous access is never allowed."""
    storage_path: Annotated[str, StringConstraints(pattern=r"^/[^\s]*$")] = "/var/lib/registry"
    """Where blobs live (a CephFS or RBD mount on real sites). Default: /var/lib/registry."""
    caches: tuple[PullThroughCache, ...] = ()
    """Pull-through caches. Default: none."""
    gc: GarbageCollection = GarbageCollection()
    """Garbage collection. Default: weekly."""


class RuntimeImage(Model):
    """An ML runtime image built from images/ml-runtime and pushed to the registry."""

    name: Name
    """Image name in the registry, e.g. ml-runtime."""
    variant: Literal["gpu", "cpu"] = "gpu"
    """``gpu`` builds on a CUDA runtime base; ``cpu`` on plain Debian (runs on laptops too).
    Default: gpu."""
    base_image: str | None = None
    """Base image reference. Default: the pinned CUDA base (gpu) or Debian slim (cpu)."""
    python: Annotated[str, StringConstraints(pattern=r"^3\.\d+$")] = "3.11"
    """Python version. Default: 3.11."""
    package_sets: tuple[Literal["ml", "nlp", "nlp-ja", "jupyter", "ssh"], ...] = (
        "ml",
        "jupyter",
        "ssh",
    )
    """Package sets to install. Default: ml, jupyter, ssh."""
    tag: Literal["content-hash", "content-hash-and-latest"] = "content-hash"
    """Tagging: the hash of the build context (an unchanged context is never rebuilt), and
    optionally also ``latest``. Default: content-hash."""
    prepull: bool = True
    """Pull the image onto every GPU host ahead of time. Default: true."""
    build: bool = True
    """Build and push the image on the site's build host. ``false`` declares an image that
    reaches the registry by other means, under the same content-hash reference: profiles
    and pre-pulls use it, nothing builds it (the lab, whose hosts reach no container
    registry or package index, declares its runtime image so). Default: true."""

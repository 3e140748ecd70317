"""The image registry (CNCF distribution, Debian/Ubuntu package ``docker-registry``).

On each host with role ``registry``: TLS with a certificate issued by the site CA (at apply
time, deterministically, so a re-apply writes the same bytes), htpasswd (bcrypt) users,
storage on a configurable path, a read-only instance on the registry's port for every user
(nodes, people; containerd's mirror endpoint), a read-write instance on the next port for
push users only (distribution's htpasswd auth has no per-user rights, so "pull-only" is
enforced by which instance knows the user), one pull-through cache instance per configured
upstream (a cache the site no longer describes is stopped, disabled and unconfigured; its
storage is kept), garbage collection on a systemd timer with the read-write instance
stopped, and a health check.
See ``mlsite.hosts.render.registry`` for the files.

Secrets (user passwords, the CA key, upstream passwords) are ``mlsite.spec.Secret`` values:
the Pulumi layer marks them secret, dumps mask them, and only this deploy reveals them, to
hash passwords and issue the certificate. No operation name carries a secret.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainSerializer,
    SerializationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.deploys.registry import render
from mlsite.hosts.params import MASK, DeployParams
from mlsite.spec import Host, Secret, SiteSpec
from mlsite.spec.site import ProvidedCa
from mlsite.versions import pin

BCRYPT_COST = 10
"""bcrypt work factor. The registry checks the hash on every request, so not higher."""


def _accept_plain(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, Secret):  # already validated (a runtime secret has no env/secure)
        return value
    if isinstance(value, str):  # the runner hands revealed secrets over as plain text (stdin)
        return Secret.model_validate(value, context={"plaintext_secrets": True})
    return handler(value)


def _dump_secret(value: Secret, info: SerializationInfo) -> Any:
    context = info.context or {}
    if isinstance(context, dict) and context.get("reveal_secrets"):
        return value.reveal()
    return {"env": value.env} if value.env is not None else MASK


ApplySecret = Annotated[
    Secret, WrapValidator(_accept_plain), PlainSerializer(_dump_secret, when_used="always")
]
"""A site secret inside params: revealed only by the deploy, masked in every other dump."""


class CaMaterial(DeployParams):
    """The site CA: its certificate and its private key (a secret)."""

    cert_pem: str
    key: ApplySecret


class User(DeployParams):
    """A registry user."""

    name: str
    password: ApplySecret
    access: Literal["push", "pull"]


class Cache(DeployParams):
    """A pull-through cache instance."""

    name: str
    upstream: str
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: ApplySecret | None = None


class Tls(DeployParams):
    """The registry's TLS: issued from the site CA, or a certificate the site provides."""

    ca_cert_pem: str
    """The CA clients trust (installed as ``ca.crt``)."""
    ca_key: ApplySecret | None = None
    """Set: the deploy issues the server certificate for ``dns_names``/``ip_addresses``."""
    certificate_pem: str | None = None
    """A provided server certificate chain (with ``key``), used as is."""
    key: ApplySecret | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_source(self) -> Tls:
        provided = self.certificate_pem is not None and self.key is not None
        if (self.ca_key is not None) == provided:
            raise ValueError("tls takes either ca_key, or certificate_pem with key")
        return self


class Params(DeployParams):
    """Parameters of the registry role on a group of hosts."""

    package: str = Field(default_factory=lambda: pin("registry", "debian_package"))
    """The distribution package providing /usr/bin/docker-registry."""
    port: int = Field(ge=1, le=65535)
    """Port of the read-only instance: every user, the endpoint nodes and people pull from."""
    push_port: int = Field(ge=1, le=65535)
    """Port of the read-write instance: push users only (see ``push_port_for``)."""
    storage_path: str
    users: tuple[User, ...] = Field(min_length=1)
    caches: tuple[Cache, ...] = ()
    gc_schedule: str
    gc_delete_untagged: bool = True
    tls: Tls


class RegistryCaMissing(LookupError):
    """The site CA is generated and lives in the Pulumi state, so it must be handed in."""


def params_for(site: SiteSpec, hosts: tuple[Host, ...], ca: CaMaterial | None = None) -> Params:
    """The registry parameters of ``hosts`` (pure). ``ca``: the generated site CA (from the
    Pulumi state); not needed when the site provides its CA or the registry certificate."""
    spec = site.registry
    if spec is None:
        raise LookupError("registry: the site describes no registry (add a `registry:` section)")
    domain = site.site.domain
    names = tuple(
        sorted({n for h in hosts for n in (h.name, f"{h.name}.{domain}")} | {"localhost"})
    )
    ips = tuple(sorted({str(h.address) for h in hosts} | {"127.0.0.1"}))
    site_ca = site.site.ca
    if ca is None and isinstance(site_ca, ProvidedCa):
        ca = CaMaterial(cert_pem=site_ca.certificate, key=site_ca.key)
    if spec.tls.certificate is not None and spec.tls.key is not None:
        anchor = ca.cert_pem if ca is not None else _last_pem(spec.tls.certificate)
        tls = Tls(ca_cert_pem=anchor, certificate_pem=spec.tls.certificate, key=spec.tls.key)
    elif ca is not None:
        tls = Tls(ca_cert_pem=ca.cert_pem, ca_key=ca.key, dns_names=names, ip_addresses=ips)
    else:
        raise RegistryCaMissing(
            "registry: site.ca is generated, and the generated CA lives in the Pulumi state; "
            "apply the registry with mlsite.components.registry.Registry, pass `ca=` to params_for, "
            "or set site.ca to `source: provided`"
        )
    taken = {c.port for c in spec.caches}
    if spec.port in taken:
        raise ValueError(
            f"registry.caches: port {spec.port} is the registry's own; give the caches other ports"
        )
    push_port = push_port_for(spec.port, taken)
    return Params(
        port=spec.port,
        push_port=push_port,
        storage_path=spec.storage_path,
        users=tuple(User(name=u.name, password=u.password, access=u.access) for u in spec.users),
        caches=tuple(
            Cache(
                name=c.name,
                upstream=str(c.upstream).rstrip("/"),
                port=c.port,
                username=c.username,
                password=c.password,
            )
            for c in spec.caches
        ),
        gc_schedule=spec.gc.schedule,
        gc_delete_untagged=spec.gc.delete_untagged,
        tls=tls,
    )


def push_port_for(port: int, taken: set[int]) -> int:
    """The push instance's port: the first port after ``port`` no cache uses (5001 when
    there are no caches; with caches on 5001-5002, 5003)."""
    push = port + 1
    while push in taken:
        push += 1
    if push > 65535:
        raise ValueError(f"registry: no free port above {port} for the push instance")
    return push


def instances(params: Params) -> tuple[render.Instance, list[render.Instance]]:
    """The read-write instance, and the read-only ones (pull, then the caches)."""
    main = render.Instance("push", params.push_port, params.storage_path, render.HTPASSWD_PUSH)
    readers = [
        render.Instance(
            "pull", params.port, params.storage_path, render.HTPASSWD_ALL, readonly=True
        )
    ]
    for c in params.caches:
        readers.append(
            render.Instance(
                f"cache-{c.name}",
                c.port,
                f"{params.storage_path}-cache-{c.name}",
                render.HTPASSWD_ALL,
                upstream=c.upstream,
                upstream_username=c.username,
                upstream_password=c.password.reveal() if c.password is not None else None,
            )
        )
    return main, readers


def _last_pem(chain: str) -> str:
    marker = "-----BEGIN CERTIFICATE-----"
    return marker + chain.rsplit(marker, 1)[-1]


DEPLOY = Deploy(
    name="registry",
    params_model=Params,
    params_for=params_for,
    applies_to=lambda h: any(r.value == "registry" for r in h.roles),
    holds_data=True,
    component="Registry",
)

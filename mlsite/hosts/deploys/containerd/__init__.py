"""containerd with the site registry as a mirror (hosts.toml under /etc/containerd/certs.d),
the site CA trusted, and the NVIDIA runtime on GPU hosts."""

from __future__ import annotations

from pydantic import Field

from mlsite.hosts.deploys import Deploy
from mlsite.hosts.params import DeployParams, SecretText
from mlsite.spec import Host, Role, Secret, SiteSpec

CA_FILE = "/usr/local/share/ca-certificates/mlsite-site-ca.crt"


class Mirror(DeployParams):
    """A registry containerd pulls ``upstream`` images from (the site registry or one of
    its pull-through caches)."""

    upstream: str
    """Registry host being mirrored (docker.io) or the site registry's own host:port."""
    endpoint: str
    """Mirror URL, e.g. https://lab-3.lab.mlsite.test:5000."""


class Params(DeployParams):
    """Parameters of the containerd role on a group of hosts."""

    nvidia_runtime: dict[str, bool]
    """Whether each host (by name) has GPUs and gets the NVIDIA runtime as default."""
    registry_endpoint: str | None = None
    """The site registry's URL (https://host:port). Default: none, no site registry."""
    mirrors: tuple[Mirror, ...] = ()
    """Pull-through caches of upstream registries. Default: none."""
    username: str | None = None
    """Registry pull user. Default: anonymous."""
    password: SecretText | None = None
    """Registry pull password (secret; masked in every dump but the runner's request)."""
    ca_pem: str | None = Field(default=None, pattern=r"^-----BEGIN CERTIFICATE-----")
    """The site CA certificate (PEM) to trust. Default: none (the registry issue provides it)."""


def _reveal(secret: Secret | None) -> str | None:
    if secret is None:
        return None
    try:
        return secret.reveal()
    except LookupError:
        return None  # not decrypted here (plan/preview); the Pulumi layer supplies it at apply


def params_for(site: SiteSpec, hosts: tuple[Host, ...]) -> Params:
    """The containerd parameters of ``hosts``: registry endpoint and caches from the site."""
    nvidia = {h.name: bool(h.gpus) for h in hosts}
    registry = site.registry
    if registry is None:
        return Params(nvidia_runtime=nvidia)
    servers = site.hosts_with(Role.REGISTRY)
    if not servers:
        return Params(nvidia_runtime=nvidia)
    name = f"{servers[0].name}.{site.site.domain}"
    puller = next((u for u in registry.users if u.access == "pull"), registry.users[0])
    password = _reveal(puller.password)
    return Params(
        nvidia_runtime=nvidia,
        registry_endpoint=f"https://{name}:{registry.port}",
        mirrors=tuple(
            Mirror(
                upstream=c.namespace,
                endpoint=f"https://{name}:{c.port}",
            )
            for c in registry.caches
        ),
        username=puller.name if password is not None else None,
        password=password,
    )


DEPLOY = Deploy(
    name="containerd",
    params_model=Params,
    params_for=params_for,
    batch_facts=True,
)

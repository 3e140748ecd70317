"""containerd with the site registry as a mirror (hosts.toml under /etc/containerd/certs.d),
the site CA trusted, and the NVIDIA runtime on GPU hosts."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field
from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import server

from mlsite.hosts import operations
from mlsite.hosts.deploys.common import host_entry, put_text
from mlsite.hosts.params import RoleParams, SecretText
from mlsite.hosts.render import containerd as render
from mlsite.hosts.roles import RoleDeploy
from mlsite.spec import Host, Role, Secret, SiteSpec

CA_FILE = "/usr/local/share/ca-certificates/mlsite-site-ca.crt"


class Mirror(RoleParams):
    """A registry containerd pulls ``upstream`` images from (the site registry or one of
    its pull-through caches)."""

    upstream: str
    """Registry host being mirrored (docker.io) or the site registry's own host:port."""
    endpoint: str
    """Mirror URL, e.g. https://lab-3.lab.mlsite.test:5000."""


class Params(RoleParams):
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


@deploy("containerd")
def containerd(params: Params) -> None:
    """Install and configure containerd on the current host."""
    nvidia = host_entry(params.nvidia_runtime, host.name, "containerd")
    operations.packages(name="Install containerd", packages=["containerd", "ca-certificates"])
    ca_path = None
    if params.ca_pem:
        ca = put_text("Trust the site CA", CA_FILE, params.ca_pem.strip() + "\n")
        if ca.will_change:
            server.shell(name="Update the CA bundle", commands=["update-ca-certificates"])
        ca_path = CA_FILE
    config = put_text(
        "Configure containerd" + (" (NVIDIA runtime default)" if nvidia else ""),
        "/etc/containerd/config.toml",
        render.config_toml(nvidia),
    )
    changed = config.will_change
    password = params.password.get_secret_value() if params.password else None
    if params.registry_endpoint:
        server_host = urlsplit(params.registry_endpoint).netloc
        registry = put_text(
            f"Use the site registry {server_host} (hosts.toml)",
            f"{render.CERTS_D}/{server_host}/hosts.toml",
            render.hosts_toml(
                params.registry_endpoint,
                params.registry_endpoint,
                ca_path,
                params.username,
                password,
            ),
            "600",
        )
        changed = changed or registry.will_change
    for mirror in params.mirrors:
        put_text(
            f"Mirror {mirror.upstream} through {mirror.endpoint}",
            f"{render.CERTS_D}/{mirror.upstream}/hosts.toml",
            render.hosts_toml(
                f"https://{mirror.upstream}", mirror.endpoint, ca_path, params.username, password
            ),
            "600",
        )
    operations.service(
        name="Keep containerd running" + (" (restart: configuration changed)" if changed else ""),
        service="containerd",
        running=True,
        enabled=True,
        restarted=changed,
    )


ROLE = RoleDeploy(
    name="containerd",
    deploy=containerd,
    params_model=Params,
    params_for=params_for,
    batch_facts=True,
)

# Run as a deploy file: pyinfra hosts/inventory.py hosts/deploys/containerd.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file

    run_deploy_file("containerd")

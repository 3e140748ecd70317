"""The pyinfra half of the ``containerd`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.containerd``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import server

from mlsite.hosts import operations
from mlsite.hosts.common import host_entry, put_text
from mlsite.hosts.deploys.containerd import CA_FILE, Params, render


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


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/containerd/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.containerd import DEPLOY

    run_deploy_file(DEPLOY)

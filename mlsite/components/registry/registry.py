"""``Registry``: the site's image registry on its ``registry`` hosts, and the site CA.

The CA is the site's (``site.ca``): provided by the organisation, or generated once by a
``SiteCa`` resource and kept in the Pulumi state (protected). The registry's server
certificate is issued from it at apply time by the host deploy (deterministically).
"""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Callable

import pulumi

from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.hosts import Hosts
from mlsite.components.hosts.inputs import plan_groups
from mlsite.components.registry.ca import SiteCaOutputs, site_ca
from mlsite.components.secrets import secret_output
from mlsite.hosts.deploys.registry import CaMaterial, Params, params_for, push_port_for
from mlsite.spec import Host, Role, SiteSpec

ROLE = "registry"


class Registry(pulumi.ComponentResource):
    """The private image registry (CNCF distribution) with TLS from the site CA, htpasswd
    users, pull-through caches and scheduled garbage collection."""

    url: pulumi.Output[str]
    """Where everyone pulls from: ``https://<first registry host FQDN>:<port>`` (read-only;
    also containerd's mirror endpoint)."""
    push_url: pulumi.Output[str]
    """Where push users push: the same host, the first port after ``port`` no cache uses."""
    ca_cert_pem: pulumi.Output[str]
    """The site CA certificate (PEM) every client must trust."""
    pull_username: pulumi.Output[str]
    """The first user with ``access: pull`` (else the first user)."""
    pull_password: pulumi.Output[str]
    """That user's password (a secret)."""
    deploys: dict[str, HostDeploy]
    """The HostDeploys by group name."""

    def __init__(
        self,
        name: str,
        site: SiteSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        hosts: Hosts | None = None,
        ca: SiteCaOutputs | None = None,
    ) -> None:
        """``site`` must describe a registry and at least one host with role registry;
        ``hosts``: the site's host layer, whose base deploys run first; ``ca``: the site CA
        (default: this component makes it, for stacks composing a registry alone)."""
        super().__init__("mlsite:registry:Registry", name, None, opts)
        spec = site.registry
        servers = site.hosts_with(Role.REGISTRY)
        if spec is None or not servers:
            raise ValueError(
                "Registry needs `registry:` in the site description and a host with role registry"
            )
        child = pulumi.ResourceOptions(parent=self)
        base = hosts.base if hosts else []
        site_authority = ca or site_ca(f"{name}-ca", site, child)
        ca_cert, ca_material = site_authority.cert_pem, site_authority.material
        self.deploys = {}
        for group in plan_groups(ROLE, servers):
            params: Params | pulumi.Output[Params]
            if ca_material is None:
                params = params_for(site, group.hosts)
            else:
                params = ca_material.apply(_params_with(site, group.hosts))
            self.deploys[group.name] = HostDeploy(
                f"{name}-{group.name}",
                HostDeployArgs(group=group, params=params),
                pulumi.ResourceOptions(parent=self, protect=True),
                depends_on=base,
            )
        fqdn = f"{servers[0].name}.{site.site.domain}"
        self.url = pulumi.Output.from_input(f"https://{fqdn}:{spec.port}")
        push_port = push_port_for(spec.port, {c.port for c in spec.caches})
        self.push_url = pulumi.Output.from_input(f"https://{fqdn}:{push_port}")
        self.ca_cert_pem = ca_cert
        puller = next((u for u in spec.users if u.access == "pull"), spec.users[0])
        self.pull_username = pulumi.Output.from_input(puller.name)
        self.pull_password = secret_output(puller.password)
        self.register_outputs(
            {
                "url": self.url,
                "push_url": self.push_url,
                "ca_cert_pem": self.ca_cert_pem,
                "pull_username": self.pull_username,
                "pull_password": self.pull_password,
            }
        )


def _params_with(site: SiteSpec, hosts: tuple[Host, ...]) -> Callable[[CaMaterial], Params]:
    def build(ca: CaMaterial) -> Params:
        return params_for(site, hosts, ca=ca)

    return build

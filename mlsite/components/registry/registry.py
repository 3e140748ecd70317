"""``Registry``: the site's image registry on its ``registry`` hosts, and the site CA.

The CA is the site's (``site.ca``): provided by the organisation, or generated once by a
``SiteCa`` resource and kept in the Pulumi state (protected). The registry's server
certificate is issued from it at apply time by the host deploy (deterministically).
"""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Callable
from dataclasses import dataclass

import pulumi

from mlsite.components.ca import site_ca
from mlsite.components.hosts.deploy import HostDeploy
from mlsite.components.hosts.hosts import Hosts
from mlsite.components.hosts.layer import apply_deploy
from mlsite.components.options import child_options
from mlsite.components.secrets import secret_output
from mlsite.hosts import deploys
from mlsite.hosts.deploys.registry import CaMaterial, Params, params_for, push_port_for
from mlsite.spec import Host, Role, SiteSpec
from mlsite.spec.services import Registry as RegistrySpec


@dataclass(frozen=True)
class RegistryArgs:
    """What ``Registry`` builds, and on which host layer."""

    hosts: Hosts
    """The host layer it runs on: the registry waits for its base deploy, serves from its
    hosts with role ``registry`` and signs with its site CA (the one containerd trusts)."""
    registry: RegistrySpec | None = None
    """The registry's description. Default: the host layer's description's ``registry``."""


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
    site: SiteSpec
    """The description it was built from (its ``registry`` is this registry's)."""

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        site = args.hosts.site
        if args.registry is not None:
            site = site.model_copy(update={"registry": args.registry})
        spec = site.registry
        servers = site.hosts_with(Role.REGISTRY)
        if spec is None or not servers:
            raise ValueError(
                "Registry needs a registry description (RegistryArgs.registry or the host "
                "layer's `registry:`) and a host with role registry"
            )
        super().__init__("mlsite:registry:Registry", name, None, opts)
        self.site = site
        authority = args.hosts.ca or site_ca(f"{name}-ca", site, child_options(self, opts))
        ca_material = authority.material

        def params(group: tuple[Host, ...]) -> Params | pulumi.Output[Params]:
            if ca_material is None:
                return params_for(site, group)
            return ca_material.apply(_params_with(site, group))

        self.deploys = apply_deploy(
            self,
            name,
            opts,
            deploys.get("registry"),
            servers,
            params,
            after=args.hosts.base,
            label="hosts",
            renamed_from=lambda group: group,
        )
        fqdn = f"{servers[0].name}.{site.site.domain}"
        self.url = pulumi.Output.from_input(f"https://{fqdn}:{spec.port}")
        push_port = push_port_for(spec.port, {c.port for c in spec.caches})
        self.push_url = pulumi.Output.from_input(f"https://{fqdn}:{push_port}")
        self.ca_cert_pem = authority.cert_pem
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

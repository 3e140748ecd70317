"""``Hosts``: the host layer of a site, one HostDeploy per deploy and host group."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial

import pulumi

from mlsite.components.ca import SiteCaOutputs, site_ca
from mlsite.components.hosts.deploy import HostDeploy
from mlsite.components.hosts.inputs import MAX_GROUP_HOSTS, former_group_name
from mlsite.components.hosts.layer import apply_deploy
from mlsite.components.options import child_options
from mlsite.components.outputs import known
from mlsite.hosts import deploys
from mlsite.hosts.params import DeployParams
from mlsite.spec import Host, SiteSpec


@dataclass(frozen=True)
class HostsArgs:
    """What ``Hosts`` builds: the site's hosts and what their deploys read of the site."""

    site: SiteSpec
    """The description: its hosts, and the parts their deploys read (users, the registry
    containerd pulls from). A stack needing only some hosts describes only those."""
    deploys: Collection[str] | None = None
    """Apply only these deploys (``base`` is needed by every other). Default: every deploy
    that needs no other component; unknown names are refused with the valid ones."""
    ca: SiteCaOutputs | None = None
    """The site CA the hosts trust (containerd, for the site registry). Default: the
    description's ``site.ca``: a provided CA as is, a generated one made here (once, kept
    in the state) when the site has a registry."""
    max_group_hosts: int = MAX_GROUP_HOSTS
    """Hosts per HostDeploy."""


class Hosts(pulumi.ComponentResource):
    """The host layer: ``base`` on every host first, then each deploy on the hosts that take
    it. Deploys that need other components' values (registry, ceph, nfs_ha, personal_db,
    image builds) are applied by those components, which wait for this layer's base."""

    site: SiteSpec
    """The description the layer was built from (other components read their part of it)."""
    ca: SiteCaOutputs | None
    """The site CA every host trusts (None: the site has no registry and was given none)."""
    deploys: dict[str, HostDeploy]
    """HostDeploys by group name (``<deploy>`` or ``<deploy>-<n>``)."""
    base: list[HostDeploy]
    """The base-layer deploys: every other part of the site waits for them."""
    host_names: pulumi.Output[list[str]]
    """Names of the hosts managed, in description order."""

    def __init__(
        self, name: str, args: HostsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if args.deploys is not None:
            _check(args.deploys)
        super().__init__("mlsite:hosts:Hosts", name, None, opts)
        site = args.site
        self.site = site
        self.ca = args.ca
        if self.ca is None and site.registry is not None:
            self.ca = site_ca(f"{name}-ca", site, child_options(self, opts))
        ca_pem = self.ca.cert_pem if self.ca else None
        self.deploys = {}
        self.base = []
        for deploy in _layer(args.deploys):
            made = apply_deploy(
                self,
                name,
                opts,
                deploy,
                deploy.hosts(site),
                _params_of(deploy, site),
                after=() if deploy.name == deploys.BASE else self.base,
                ca_pem=ca_pem,
                max_group_hosts=args.max_group_hosts,
                renamed_from=partial(former_group_name, role=deploy.name),
            )
            self.deploys.update(made)
            if deploy.name == deploys.BASE:
                self.base = list(made.values())
        self.host_names = known([h.name for h in site.hosts])
        self.register_outputs({"host_names": self.host_names, "groups": sorted(self.deploys)})


def _params_of(
    deploy: deploys.Deploy, site: SiteSpec
) -> Callable[[tuple[Host, ...]], DeployParams]:
    return lambda hosts: deploy.params_for(site, hosts)


def _check(names: Collection[str]) -> None:
    deploys.check_names(set(names), "HostsArgs.deploys")
    elsewhere = sorted(
        f"{n} (use {d.component})" for n in names if (d := deploys.get(n)).component is not None
    )
    if elsewhere:
        raise ValueError(
            "HostsArgs.deploys: these deploys need values of other resources and are applied "
            f"by their component, not by Hosts: {', '.join(elsewhere)}"
        )


def _layer(only: Collection[str] | None) -> list[deploys.Deploy]:
    """The deploys ``Hosts`` applies, ``base`` first: ``only`` those, else every one that
    no other component applies."""
    wanted = [
        d
        for d in map(deploys.get, deploys.names())
        if (d.name in only if only is not None else d.component is None)
    ]
    return sorted(wanted, key=lambda d: d.name != deploys.BASE)

"""Burst: extra GPU boxes joining a site for a while, with only the host roles a GPU
worker needs. A custom stack program composes components; it does not build the whole
site (no Site component): `mlsite plan --stack burst` runs this file instead.

Config: ``mlsite:site`` (the hosts, like any stack) and ``burst:roles`` (the roles to
apply; default base, network, gpu, containerd, monitoring_agent; an unknown name is
refused with the list of valid ones).
"""

import pulumi

from mlsite.components import Hosts, HostsArgs, site_from_config

DEFAULT_ROLES = ("base", "network", "gpu", "containerd", "monitoring_agent")

site = site_from_config()
roles = frozenset(pulumi.Config("burst").get_object("roles") or DEFAULT_ROLES)
burst = Hosts("burst", HostsArgs(site, deploys=roles))
pulumi.export("hosts", burst.host_names)

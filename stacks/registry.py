# stacks/registry.py: a private registry and the hosts that pull from it, nothing else
import pulumi

from mlsite.components import Hosts, HostsArgs, Registry, RegistryArgs, site_from_config

site = site_from_config()  # mlsite:site of stacks/Pulumi.registry.yaml, validated
hosts = Hosts("team-hosts", HostsArgs(site, deploys={"base", "containerd"}))
registry = Registry("team-registry", RegistryArgs(hosts))
pulumi.export("registry", registry.url)
pulumi.export("ca_cert_pem", registry.ca_cert_pem)

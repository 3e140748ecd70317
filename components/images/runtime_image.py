"""``RuntimeImage``: the ML runtime image built on the site's build host and pushed to the
site registry under a content-hash tag."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

import pulumi

from components.hosts.deploy import HostDeploy, HostDeployArgs
from components.hosts.inputs import HostGroup, host_entry
from components.images.build import ImageBuild
from components.images.context import CONTEXT_DIR, build_args, image_tag
from components.registry.registry import Registry
from components.secrets import secret_output
from hosts.deploys.image_prepull import params_for as prepull_params
from mlsite.spec import Role, SiteSpec
from mlsite.spec.services import RuntimeImage as RuntimeImageSpec


class RuntimeImage(pulumi.ComponentResource):
    """Builds ``images/ml-runtime`` with buildah on the first ``build`` host and pushes it;
    an unchanged context and unchanged pins give the same tag and no rebuild."""

    ref: pulumi.Output[str]
    """The pushed image reference, ``<registry host>:<port>/<name>:c-<hash>`` (pull side)."""
    tag: pulumi.Output[str]
    """The content-hash tag."""
    prepull: HostDeploy | None
    """Pulls the image onto every GPU host after the push (None: no GPU host, or
    ``prepull: false``)."""

    def __init__(
        self,
        name: str,
        spec: RuntimeImageSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        site: SiteSpec,
        registry: Registry,
    ) -> None:
        super().__init__("mlsite:images:RuntimeImage", name, None, opts)
        builders = site.hosts_with(Role.BUILD)
        if not builders or site.registry is None:
            raise ValueError("RuntimeImage needs a host with role build and a site registry")
        args = build_args(spec)
        tag = image_tag(CONTEXT_DIR, args)
        pusher = next(u for u in site.registry.users if u.access == "push")
        servers = site.hosts_with(Role.REGISTRY)
        fqdn = f"{servers[0].name}.{site.site.domain}"
        push = registry.push_url.apply(lambda url: url.removeprefix("https://"))
        image = push.apply(lambda host: f"{host}/{spec.name}:{tag}")
        build = ImageBuild(
            f"{name}-build",
            {
                "host": host_entry(builders[0]),
                "context_dir": str(CONTEXT_DIR),
                "build_args": args,
                "image": image,
                "ca_cert_pem": registry.ca_cert_pem,
                "username": pusher.name,
                "password": secret_output(pusher.password),
            },
            pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["password"],
                # the push needs the registry up (which itself waits for the hosts' base layer)
                depends_on=list(registry.deploys.values()),
            ),
        )
        self.tag = pulumi.Output.from_input(tag)
        ref = f"{fqdn}:{site.registry.port}/{spec.name}:{tag}"
        self.ref = build.pushed.apply(lambda _: ref)
        gpu_hosts = tuple(h for h in site.hosts if h.gpus)
        self.prepull = None
        if spec.prepull and gpu_hosts:
            # Pulled onto every GPU host once pushed: a workspace then starts in seconds.
            self.prepull = HostDeploy(
                f"{name}-prepull",
                HostDeployArgs(
                    HostGroup("image_prepull", "image_prepull", gpu_hosts),
                    prepull_params(site, gpu_hosts, images=(ref,)),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[build]),
            )
        self.register_outputs({"ref": self.ref, "tag": self.tag})

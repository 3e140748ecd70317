"""``RuntimeImage``: the ML runtime image built with buildah on the site's build host (the
``image_build`` host role) and pushed to the site registry under a content-hash tag."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from mlsite.components.hosts.deploy import HostDeploy
from mlsite.components.hosts.layer import apply_one
from mlsite.components.images.context import CONTEXT_DIR, build_args, image_tag
from mlsite.components.registry.registry import Registry
from mlsite.hosts.deploys import image_build
from mlsite.hosts.deploys.image_prepull import params_for as prepull_params
from mlsite.spec import Host, Role, SiteSpec
from mlsite.spec.services import RuntimeImage as RuntimeImageSpec


@dataclass(frozen=True)
class RuntimeImageArgs:
    """What ``RuntimeImage`` builds, and into which registry."""

    image: RuntimeImageSpec
    """The image's description (one of the site's ``images``)."""
    registry: Registry
    """The registry it is pushed to (the build waits for it and trusts its CA)."""
    after: Sequence[Any] = ()
    """Resources the build waits for besides the registry (``Site`` chains its images'
    builds, which share one build host, one after the other)."""


class RuntimeImage(pulumi.ComponentResource):
    """Builds ``images/ml-runtime`` with buildah on the first ``build`` host and pushes it;
    an unchanged context and unchanged pins give the same tag and no rebuild."""

    ref: pulumi.Output[str]
    """The pushed image reference, ``<registry host>:<port>/<name>:c-<hash>`` (pull side)."""
    tag: pulumi.Output[str]
    """The content-hash tag."""
    build: HostDeploy | None
    """The build host's ``image_build`` deploy: builds and pushes the tag when the registry
    lacks it (None: the description says ``build: false``)."""
    prepull: HostDeploy | None
    """Pulls the image onto every GPU host after the push (None: no GPU host, or
    ``prepull: false``)."""

    def __init__(
        self, name: str, args: RuntimeImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec, registry, after, site = args.image, args.registry, args.after, args.registry.site
        super().__init__("mlsite:images:RuntimeImage", name, None, opts)
        self._opts = opts
        builders = site.hosts_with(Role.BUILD)
        if not builders or site.registry is None:
            raise ValueError("RuntimeImage needs a host with role build and a site registry")
        arguments = build_args(spec)
        tag = image_tag(CONTEXT_DIR, arguments)
        push_endpoint = image_build.push_endpoint(site)
        to_build = image_build.ImageToBuild(
            ref=f"{push_endpoint}/{spec.name}:{tag}",
            context_dir=CONTEXT_DIR.relative_to(image_build.PROJECT_ROOT).as_posix(),
            context=image_build.context_files(CONTEXT_DIR),
            build_args=arguments,
            also_latest=spec.tag == "content-hash-and-latest",
        )

        self.build = None
        if spec.build:
            self.build = self._build(name, spec, site, registry, to_build, builders, after)
        self.tag = pulumi.Output.from_input(tag)
        servers = site.hosts_with(Role.REGISTRY)
        ref = f"{servers[0].name}.{site.site.domain}:{site.registry.port}/{spec.name}:{tag}"
        built = self.build
        self.ref = built.changed.apply(lambda _: ref) if built else pulumi.Output.from_input(ref)
        gpu_hosts = tuple(h for h in site.hosts if h.gpus)
        self.prepull = None
        if spec.prepull and gpu_hosts:
            # Pulled onto every GPU host once pushed: a workspace then starts in seconds.
            self.prepull = apply_one(
                self,
                name,
                opts,
                "image_prepull",
                gpu_hosts,
                prepull_params(site, gpu_hosts, images=(ref,)),
                after=[built] if built else [],
                label="prepull",
            )
        self.register_outputs({"ref": self.ref, "tag": self.tag})

    def _build(
        self,
        name: str,
        spec: RuntimeImageSpec,
        site: SiteSpec,
        registry: Registry,
        to_build: image_build.ImageToBuild,
        builders: tuple[Host, ...],
        after: Sequence[pulumi.Resource],
    ) -> HostDeploy:
        def params(ca_pem: str | None) -> image_build.Params:
            # None only under an offline plan, where the generated CA is not known yet
            return image_build.params_for(
                site, builders[:1], images=(to_build,), ca_pem=ca_pem or None
            )

        # the push needs the registry up (which itself waits for the hosts' base layer)
        return apply_one(
            self,
            name,
            self._opts,
            "image_build",
            builders[:1],
            registry.ca_cert_pem.apply(params),
            after=[*registry.deploys.values(), *after],
            label="build",
            group=f"image_build-{spec.name}",
        )

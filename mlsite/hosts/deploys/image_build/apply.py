"""The pyinfra half of the ``image_build`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.image_build``.
"""

from __future__ import annotations

import io
import shlex

from pyinfra.api.deploy import deploy
from pyinfra.api.facts import FactBase
from pyinfra.context import host
from pyinfra.operations import files, server

from mlsite.hosts import operations
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.image_build import (
    AUTH_FILE,
    CERTS_D,
    MANIFEST_TYPES,
    MIRRORS_CONF,
    NETRC,
    STORAGE_ROOT,
    WORKDIR,
    Params,
    auth_json,
    build_script,
    context_tarball,
    mirrors_conf,
    netrc,
    storage_driver,
)


class RegistryTags(FactBase[dict[str, bool]]):
    """Whether the registry serves each ``repository:tag`` (asked over TLS, as the push
    user; an unreachable registry or missing credentials answer "not there")."""

    def command(self, registry: str, refs: tuple[str, ...]) -> str:
        accept = " ".join(f"-H 'Accept: {t}'" for t in MANIFEST_TYPES)
        checks = []
        for ref in refs:
            repository, tag = ref.rsplit(":", 1)
            url = shlex.quote(f"https://{registry}/v2/{repository}/manifests/{tag}")
            checks.append(
                f"echo {shlex.quote(ref)} $(curl -s -o /dev/null -w '%{{http_code}}' -I "
                f"--max-time 20 --netrc-file {NETRC} --cacert {CERTS_D}/{registry}/ca.crt "
                f"{accept} {url} 2>/dev/null || echo 000)"
            )
        return "; ".join(checks) if checks else "true"

    @staticmethod
    def default() -> dict[str, bool]:
        return {}

    def process(self, output: list[str]) -> dict[str, bool]:
        found: dict[str, bool] = {}
        for line in output:
            parts = line.split()
            if len(parts) == 2:
                found[parts[0]] = parts[1] == "200"
        return found


class StorageFilesystem(FactBase[str]):
    """The filesystem type under buildah's storage (or of the nearest existing parent)."""

    def command(self) -> str:
        return (
            f"p={STORAGE_ROOT}; while [ ! -e $p ]; do p=${{p%/*}}; p=${{p:-/}}; done; "
            "stat -f -c %T $p"
        )

    @staticmethod
    def default() -> str:
        return ""

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


@deploy("image_build")
def image_build(params: Params) -> None:
    """Prepare the build host and build and push every image the registry lacks."""
    operations.packages(
        name="Install buildah and curl", packages=["buildah", "curl", "ca-certificates"]
    )
    files.directory(name="Build directory (root only)", path=WORKDIR, mode="700")
    if params.ca_pem is not None:
        for endpoint in dict.fromkeys([params.registry, *(m.endpoint for m in params.mirrors)]):
            put_text(
                f"Trust the site CA for {endpoint}", f"{CERTS_D}/{endpoint}/ca.crt", params.ca_pem
            )
    put_text("Pull base images through the site caches", MIRRORS_CONF, mirrors_conf(params.mirrors))
    put_text(
        "Registry push credentials for buildah (root only)", AUTH_FILE, auth_json(params), "600"
    )
    put_text("Registry push credentials for the tag check (root only)", NETRC, netrc(params), "600")
    if not params.images:
        return
    if params.ca_pem is None:
        raise ValueError(
            "image_build: pushing images needs ca_pem, the site CA the registry's certificate "
            "chains to (the Registry component hands it over)"
        )
    wanted = tuple(f"{i.repository}:{i.tag}" for i in params.images)
    there = host.get_fact(RegistryTags, registry=params.registry, refs=wanted)
    driver = storage_driver(host.get_fact(StorageFilesystem))
    for image in params.images:
        if there.get(f"{image.repository}:{image.tag}"):
            continue  # pushed before (with latest, when asked: the same script pushes both)
        files.put(
            name=f"Upload the build context of {image.ref}",
            src=io.BytesIO(context_tarball(image)),
            dest=f"{WORKDIR}/ctx-{image.tag}.tar",
            mode="600",
        )
        server.shell(name=f"Build and push {image.ref}", commands=[build_script(image, driver)])

"""``SiteCa``: the site certificate authority generated once and kept in the Pulumi state.

Its key is the one random value of the site's PKI (``mlsite.pki.new_ca_key``); everything
issued from it is deterministic. The key is a secret output; the certificate is readable.
Changing the common name or the validity replaces the CA (every host must then trust the
new one), so the Registry component protects it.
"""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pulumi
from pulumi import CustomResource
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from mlsite.components.dynamic import dynamic_props
from mlsite.hosts.deploys.registry import CaMaterial
from mlsite.spec import Secret, SiteSpec
from mlsite.spec.site import GeneratedCa

INPUT_KEYS = ("common_name", "validity_days")


class SiteCaProvider(ResourceProvider):
    """Generates the CA on create; a change of its inputs is a replacement."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        """A fresh key and a self-signed certificate starting today (UTC midnight)."""
        from mlsite import pki  # imported late: the provider pickle stays a class reference

        key = pki.new_ca_key()
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        cert = pki.ca_certificate(
            key,
            str(props["common_name"]),
            not_before=today,
            validity_days=int(props["validity_days"]),
        )
        outs = {k: props[k] for k in INPUT_KEYS}
        outs |= {"cert_pem": cert, "key_pem": key, "fingerprint": pki.fingerprint(cert)}
        return CreateResult(pki.fingerprint(cert), outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Pure: any input change replaces the CA."""
        changed = [k for k in INPUT_KEYS if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)


class SiteCa(Resource, module="registry", name="SiteCa"):
    """The generated site CA."""

    cert_pem: pulumi.Output[str]
    """PEM certificate of the CA (what every host trusts)."""
    key_pem: pulumi.Output[str]
    """PEM private key of the CA (a secret)."""
    fingerprint: pulumi.Output[str]
    """``sha256:<hex>`` of the certificate."""

    def __init__(
        self,
        name: str,
        common_name: str,
        validity_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "common_name": common_name,
            "validity_days": validity_days,
            "cert_pem": None,
            "key_pem": None,
            "fingerprint": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["key_pem"])
        )
        # What pulumi.dynamic.Resource.__init__ does, minus re-pickling the provider each time.
        CustomResource.__init__(
            self,
            f"pulumi-python:{self._resource_type_name}",
            name,
            dynamic_props(SiteCaProvider, props),
            opts,
        )


@dataclass(frozen=True)
class SiteCaOutputs:
    """The site CA as other parts use it."""

    cert_pem: pulumi.Output[str]
    """The CA certificate every host and client trusts."""
    material: pulumi.Output[CaMaterial] | None
    """Certificate and key for issuing certificates at apply time; None when the site
    provides its CA (the deploy then reads the key from the site description)."""


def site_ca(name: str, site: SiteSpec, opts: pulumi.ResourceOptions | None = None) -> SiteCaOutputs:
    """The site's CA: the provided one, or a ``SiteCa`` generated once and kept in the
    Pulumi state (protected: replacing it means every host must trust a new CA)."""
    source = site.site.ca
    if not isinstance(source, GeneratedCa):
        return SiteCaOutputs(pulumi.Output.from_input(source.certificate), None)
    generated = SiteCa(
        name,
        common_name=f"{site.site.name} site CA",
        validity_days=source.validity_days,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)),
    )
    material = pulumi.Output.all(generated.cert_pem, generated.key_pem).apply(
        lambda pair: _material(pair[0], pair[1])
    )
    return SiteCaOutputs(generated.cert_pem, material)


def _material(cert_pem: str | None, key_pem: str | None) -> CaMaterial:
    # Offline plans (mocks) know no generated values: a readable placeholder stands in.
    plain = Secret.model_validate(
        key_pem or "(generated at apply)", context={"plaintext_secrets": True}
    )
    return CaMaterial(cert_pem=cert_pem or "(generated at apply)", key=plain)

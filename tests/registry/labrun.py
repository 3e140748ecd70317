"""Applying the registry role to lab-3 through the host runner (lab tests and benchmark)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mlsite import pki
from mlsite.hosts.deploys.registry import CaMaterial, params_for
from mlsite.hosts.params import dump_params
from mlsite.spec import Role, Secret, load_stack

PUSH_ENV, PULL_ENV = "MLSITE_LAB_REGISTRY_PUSH_PASSWORD", "MLSITE_LAB_REGISTRY_PULL_PASSWORD"


@dataclass(frozen=True)
class Setup:
    """What an apply needs and yields: the CA, the passwords and the runner request."""

    ca_cert_pem: str
    push: str
    pull: str
    request: dict[str, Any]


def registry_request(address: str, port: int, user: str, key_file: str) -> Setup:
    """A fresh CA and passwords (from the environment when set) and the apply request."""
    push = os.environ.setdefault(PUSH_ENV, "push-" + os.urandom(8).hex())
    pull = os.environ.setdefault(PULL_ENV, "pull-" + os.urandom(8).hex())
    key = pki.new_ca_key()
    cert = pki.ca_certificate(key, "mlsite lab CA")
    site = load_stack("lab").site
    plain_key = Secret.model_validate(key, context={"plaintext_secrets": True})
    params = params_for(
        site, site.hosts_with(Role.REGISTRY), ca=CaMaterial(cert_pem=cert, key=plain_key)
    )
    request = {
        "mode": "apply",
        "role": "registry",
        "hosts": [
            {"name": "lab-3", "address": address, "port": port, "user": user, "key_file": key_file}
        ],
        "params": dump_params(params, reveal=True),
    }
    return Setup(cert, push, pull, request)

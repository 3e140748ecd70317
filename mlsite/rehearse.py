"""The lab rehearsal: bring a lab site's hosts up and apply its host layer to them.

``mlsite rehearse --stack lab`` is what `make lab` runs: validate the site, boot its hosts
as lab machines, apply every host-layer role that exists to the hosts it is for, then say
what runs where and how to reach it.
"""

from __future__ import annotations

import inspect
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlsite.spec import Host, LoadedSite, Role, Secret, SiteSpec

if TYPE_CHECKING:
    from hosts.params import RoleParams
    from hosts.roles import RoleDeploy


@dataclass(frozen=True)
class RoleOutcome:
    """What applying one role did."""

    role: str
    hosts: tuple[str, ...]
    changed: int
    elapsed_s: float
    errors: tuple[str, ...]


def env_secrets(value: object) -> Iterator[Secret]:
    """Every secret of the site description that is read from the environment."""
    if isinstance(value, Secret):
        if value.env is not None:
            yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from env_secrets(getattr(value, name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from env_secrets(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from env_secrets(item)


def provide_lab_secrets(site: SiteSpec, store: Path) -> list[str]:
    """Make every `env:` secret of a lab site available: taken from the environment when set,
    else generated once and kept in ``store`` (mode 0600). Returns the variables generated."""
    kept: dict[str, str] = {}
    if store.is_file():
        for line in store.read_text().splitlines():
            name, _, value = line.partition("=")
            if name and value:
                kept[name] = value
    generated = []
    for secret in env_secrets(site):
        name = str(secret.env)
        if name in os.environ:
            continue
        if name not in kept:
            kept[name] = secrets.token_urlsafe(18)
            generated.append(name)
        os.environ[name] = kept[name]
    if generated:
        store.parent.mkdir(parents=True, exist_ok=True)
        store.touch(mode=0o600)
        store.write_text("".join(f"{k}={v}\n" for k, v in sorted(kept.items())))
    return generated


@dataclass(frozen=True)
class LabCa:
    """The lab's site CA: what Pulumi would keep in its state, kept in the lab state dir."""

    cert_pem: str
    key_pem: str


def lab_ca(site: SiteSpec, store: Path) -> LabCa:
    """The site CA for a rehearsal: the site's own when provided, else one generated once
    and kept in ``store`` (key mode 0600), so re-applies issue the same certificates."""
    from mlsite import pki
    from mlsite.spec.site import ProvidedCa

    if isinstance(site.site.ca, ProvidedCa):
        return LabCa(site.site.ca.certificate, site.site.ca.key.reveal())
    cert, key = store / "ca.pem", store / "ca.key"
    if not key.is_file():
        store.mkdir(parents=True, exist_ok=True)
        key_pem = pki.new_ca_key()
        key.touch(mode=0o600)
        key.write_text(key_pem)
        cert.write_text(pki.ca_certificate(key_pem, f"{site.site.name} lab CA"))
    return LabCa(cert.read_text(), key.read_text())


def role_params(role: RoleDeploy, site: SiteSpec, hosts: tuple[Host, ...], ca: LabCa) -> RoleParams:
    """A role's parameters as the Pulumi layer would build them: roles that issue
    certificates get the CA material, roles that trust the CA get its certificate."""
    kwargs: dict[str, Any] = {}
    if "ca" in inspect.signature(role.params_for).parameters:
        from hosts.deploys.registry import CaMaterial

        key = Secret.model_validate(ca.key_pem, context={"plaintext_secrets": True})
        kwargs["ca"] = CaMaterial(cert_pem=ca.cert_pem, key=key)
    params = role.params_for(site, hosts, **kwargs)
    if "ca_pem" in type(params).model_fields and getattr(params, "ca_pem", None) is None:
        params = params.model_copy(update={"ca_pem": ca.cert_pem})
    return params


def apply_host_layer(
    loaded: LoadedSite,
    report: Callable[[RoleOutcome], None],
    ca: LabCa,
    *,
    mode: str = "apply",
) -> list[RoleOutcome]:
    """Run every registered host role on the hosts it applies to, in registry order."""
    from hosts.connection import key_for
    from hosts.params import dump_params
    from hosts.roles import get_role, role_names
    from hosts.runner import run

    site = loaded.site
    outcomes = []
    for name in role_names():
        role = get_role(name)
        hosts = tuple(h for h in site.hosts if role.applies_to(h))
        if not hosts:
            continue
        params = role_params(role, site, hosts, ca)
        request: dict[str, Any] = {
            "mode": mode,
            "role": name,
            "hosts": [
                {
                    "name": h.name,
                    "address": str(h.address),
                    "port": h.ssh.port,
                    "user": h.ssh.user,
                    "key_file": str(key) if (key := key_for(h, loaded.path)) else None,
                }
                for h in hosts
            ],
            "params": dump_params(params, reveal=True),
        }
        result = run(request)
        per_host = result.get("hosts", {})
        errors = [f"{h}: {e}" for h, r in per_host.items() for e in r.get("errors", [])]
        if result.get("error"):
            errors.append(str(result["error"]))
        outcome = RoleOutcome(
            role=name,
            hosts=tuple(h.name for h in hosts),
            changed=sum(r.get("changed", 0) for r in per_host.values()),
            elapsed_s=float(result.get("elapsed_s", 0.0)),
            errors=tuple(errors),
        )
        report(outcome)
        outcomes.append(outcome)
        if errors:
            break  # later roles build on earlier ones; stop at the first failure
    return outcomes


def where_is_what(site: SiteSpec, gateway: str) -> list[str]:
    """Lines saying what runs where in a rehearsed lab site, and how to reach it."""
    lines = [f"site {site.site.name} ({site.site.domain}), lab gateway {gateway}"]
    for h in site.hosts:
        roles = ", ".join(r.value for r in h.roles) or "base only"
        lines.append(f"  {h.name:<10} {h.address!s:<15} {roles}   (mlsite lab ssh {h.name})")
    if site.registry is not None:
        for h in site.hosts_with(Role.REGISTRY):
            lines.append(f"  registry: https://{h.address}:{site.registry.port} (site CA)")
    if site.storage.nfs is not None and site.storage.nfs.floating_ip is not None:
        lines.append(f"  NFS homes: {site.storage.nfs.floating_ip}:{site.storage.nfs.export.path}")
    return lines

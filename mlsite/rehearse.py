"""The lab rehearsal's own pieces: the lab's generated secrets and the closing summary.

``mlsite rehearse --stack lab`` is what `make lab` runs: validate the site, boot its hosts
as lab machines, then a real ``pulumi up`` of the stack (``mlsite.engine``; there is one
path to a host), then say what runs where and how to reach it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from mlsite.hosts.deploys.containerd import CA_FILE as SITE_CA_FILE
from mlsite.spec import Role, Secret, SiteSpec


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


def where_is_what(
    site: SiteSpec, gateway: str, stack: str = "lab", secrets_file: Path | None = None
) -> list[str]:
    """Lines saying what runs where in a rehearsed lab site, how to reach it, and where its
    CA and credentials are (``secrets_file``: the lab's generated ``env:`` secrets)."""
    lines = [f"site {site.site.name} ({site.site.domain}), lab gateway {gateway}"]
    for h in site.hosts:
        roles = ", ".join(r.value for r in h.roles) or "base only"
        lines.append(f"  {h.name:<10} {h.address!s:<15} {roles}   (mlsite lab ssh {h.name})")
    for h in site.hosts:
        if h.lab and h.bonds:
            names = ", ".join(b.name for b in h.bonds)
            lines.append(
                f"  {h.name}: {names} rendered and validated, not activated "
                "(lab hosts have no bonding driver; /etc/mlsite/network/50-mlsite)"
            )
    if site.registry is not None:
        for h in site.hosts_with(Role.REGISTRY):
            lines.append(
                f"  registry: https://{h.address}:{site.registry.port} (the site CA, which every "
                f"host trusts, is {SITE_CA_FILE} on each host)"
            )
    if site.storage.nfs is not None and site.storage.nfs.floating_ip is not None:
        lines.append(f"  NFS homes: {site.storage.nfs.floating_ip}:{site.storage.nfs.export.path}")
    for db in site.databases.personal:
        lines.append(
            f"  personal database {db.name}: mlsite db clone USER --stack {stack} --set {db.name}"
        )
    if secrets_file is not None and any(True for _ in env_secrets(site)):
        names = ", ".join(sorted({str(s.env) for s in env_secrets(site)}))
        lines.append(f"  credentials ({names}): {secrets_file} (mode 0600)")
    return lines

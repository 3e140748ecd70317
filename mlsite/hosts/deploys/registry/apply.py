"""The pyinfra half of the ``registry`` deploy: operations run on the hosts.

Its parameters and everything pure live in ``mlsite.hosts.deploys.registry``.
"""

from __future__ import annotations

from io import StringIO

import bcrypt
from pyinfra.api.deploy import deploy
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import OperationMeta
from pyinfra.context import host
from pyinfra.facts.files import FileContents
from pyinfra.operations import apt, files, server

from mlsite import pki
from mlsite.hosts import operations
from mlsite.hosts.common import put_text
from mlsite.hosts.deploys.registry import BCRYPT_COST, Params, User, instances, render


class CacheInstances(FactBase[list[str]]):
    """Names (``cache-<name>``) of the pull-through cache instances configured on the host:
    one config file each in the registry's config directory."""

    def command(self) -> str:
        return f"ls -1 {render.CONF_DIR} 2>/dev/null || true"

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        names = (line.strip() for line in output)
        return sorted(
            n[: -len(".yml")] for n in names if n.startswith("cache-") and n.endswith(".yml")
        )


def _remove_stale_caches(readers: list[render.Instance]) -> None:
    """Stop, disable and unconfigure the cache instances the site no longer describes. Their
    storage stays: a cache put back later starts warm, and deleting data is the admin's call."""
    wanted = {r.name for r in readers}
    present = host.get_fact(CacheInstances)
    for name in present:
        if name in wanted:
            continue
        gone = render.Instance(name, 0, "", "")
        operations.service(
            name=f"Stop registry instance {name} (no longer configured)",
            service=gone.service,
            running=False,
            enabled=False,
        )
        files.file(
            name=f"Remove the config of registry instance {name}",
            path=gone.config_path,
            present=False,
        )


def _hashes(path: str, users: list[User]) -> list[tuple[str, str]]:
    """bcrypt hashes of ``users``; a hash already on the host is kept when it still matches
    (bcrypt salts are random: re-hashing would change the file on every apply)."""
    lines = host.get_fact(FileContents, path=path) or []
    current = dict(line.split(":", 1) for line in lines if ":" in line)
    out = []
    for user in users:
        plain = user.password.reveal().encode()
        old = current.get(user.name, "")
        if old.startswith("$2") and bcrypt.checkpw(plain, old.encode()):
            out.append((user.name, old))
        else:
            out.append((user.name, bcrypt.hashpw(plain, bcrypt.gensalt(BCRYPT_COST)).decode()))
    return out


def _put(name: str, dest: str, content: str, mode: str = "640") -> OperationMeta:
    """A root-owned file the registry's user can read."""
    return files.put(
        name=name,
        src=StringIO(content),
        dest=dest,
        user="root",
        group=render.SERVICE_USER,
        mode=mode,
        create_remote_dir=True,
    )


def _tls_files(params: Params) -> list[OperationMeta]:
    tls = params.tls
    if tls.ca_key is not None:
        issued = pki.issue_server(
            tls.ca_cert_pem, tls.ca_key.reveal(), tls.dns_names, tls.ip_addresses
        )
        cert, key = issued.cert_pem, issued.key_pem
    else:
        if tls.certificate_pem is None or tls.key is None:  # Tls's validator rules this out
            raise ValueError("registry: tls has neither a CA key nor a certificate and key")
        cert, key = tls.certificate_pem, tls.key.reveal()
    return [
        _put("Install the site CA certificate", render.TLS_CA, tls.ca_cert_pem, "644"),
        _put("Install the registry's TLS certificate", render.TLS_CERT, cert, "644"),
        _put("Install the registry's TLS key", render.TLS_KEY, key),
    ]


@deploy("registry")
def registry(params: Params) -> None:
    """Install and configure the registry on the current host."""
    # Masked before the package is installed: its own unit would serve :5000 unauthenticated.
    files.link(
        name="Mask the package's own registry unit",
        path="/etc/systemd/system/docker-registry.service",
        target="/dev/null",
    )
    apt.update(name="Refresh package lists (at most daily)", cache_time=86400)
    apt.packages(name="Install the registry", packages=[params.package, "curl", "ca-certificates"])
    operations.service(
        name="Keep the package's own registry unit stopped",
        service="docker-registry.service",
        running=False,
        enabled=False,
    )
    files.directory(
        name="Create the registry config directory",
        path=f"{render.CONF_DIR}/tls",
        user="root",
        group=render.SERVICE_USER,
        mode="750",
    )
    shared = _tls_files(params)
    pushers = [u for u in params.users if u.access == "push"]
    shared.append(
        _put(
            "Install the push users (htpasswd)",
            render.HTPASSWD_PUSH,
            render.htpasswd(_hashes(render.HTPASSWD_PUSH, pushers)),
        )
    )
    unit = put_text("Install the registry unit", render.UNIT_PATH, render.unit())
    readers_auth = _put(
        "Install the pull users (htpasswd)",
        render.HTPASSWD_ALL,
        render.htpasswd(_hashes(render.HTPASSWD_ALL, list(params.users))),
    )
    main, readers = instances(params)
    # before any instance starts: a cache added on a removed one's port must find it free
    _remove_stale_caches(readers)
    restarted: list[bool] = []
    for instance in [main, *readers]:
        files.directory(
            name=f"Create the storage of registry instance {instance.name}",
            path=instance.storage,
            user=render.SERVICE_USER,
            group=render.SERVICE_USER,
            mode="750",
        )
        config = _put(
            f"Configure registry instance {instance.name} (port {instance.port})",
            instance.config_path,
            render.config_yaml(instance),
        )
        changed = [config, unit, *shared] + ([] if instance is main else [readers_auth])
        restart = any(op.will_change for op in changed)
        restarted.append(restart)
        operations.service(
            name=f"Run registry instance {instance.name}",
            service=instance.service,
            running=True,
            enabled=True,
            restarted=restart,
            daemon_reload=unit.will_change,
        )
    _gc(params, main, readers)
    health = put_text(
        "Install the registry health check",
        render.HEALTH_SCRIPT,
        render.health_script([main, *readers]),
        "755",
    )
    if any(restarted) or health.will_change:
        server.shell(
            name="Check every registry instance answers over TLS", commands=[render.HEALTH_SCRIPT]
        )


def _gc(params: Params, main: render.Instance, readers: list[render.Instance]) -> None:
    put_text(
        "Install the garbage collection script",
        render.GC_SCRIPT,
        render.gc_script(
            main, [r for r in readers if r.upstream is None], params.gc_delete_untagged
        ),
        "755",
    )
    service, timer = render.gc_units(params.gc_schedule)
    changed = [
        put_text(
            "Install the garbage collection service",
            f"/etc/systemd/system/{render.GC_SERVICE}",
            service,
        ),
        put_text(
            "Install the garbage collection timer", f"/etc/systemd/system/{render.GC_TIMER}", timer
        ),
    ]
    operations.service(
        name=f"Schedule garbage collection ({params.gc_schedule})",
        service=render.GC_TIMER,
        running=True,
        enabled=True,
        restarted=any(op.will_change for op in changed),
        daemon_reload=any(op.will_change for op in changed),
    )


# Run as a deploy file: pyinfra mlsite/hosts/inventory.py mlsite/hosts/deploys/registry/apply.py
if "__name__" not in globals():
    from mlsite.hosts.cli import run_deploy_file
    from mlsite.hosts.deploys.registry import DEPLOY

    run_deploy_file(DEPLOY)

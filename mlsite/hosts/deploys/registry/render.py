"""Files of the registry role, rendered from plain values (pure; no host, no secrets revealed
unless the caller passes them in).

One registry process per instance, each with its own config and port, all from one systemd
template unit ``mlsite-registry@<instance>.service``:

- ``pull``: read-only, every user, on the registry's port (what nodes and people pull from);
- ``push``: read-write over the same storage, push users only, on the next port;
- ``cache-<name>``: a pull-through cache of an upstream registry, own storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

CONF_DIR = "/etc/mlsite-registry"
TLS_CERT = f"{CONF_DIR}/tls/server.crt"
TLS_KEY = f"{CONF_DIR}/tls/server.key"
TLS_CA = f"{CONF_DIR}/tls/ca.crt"
HTPASSWD_PUSH = f"{CONF_DIR}/htpasswd-push"
HTPASSWD_ALL = f"{CONF_DIR}/htpasswd-all"
UNIT = "mlsite-registry@.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
GC_SCRIPT = "/usr/local/sbin/mlsite-registry-gc"
HEALTH_SCRIPT = "/usr/local/sbin/mlsite-registry-health"
GC_SERVICE = "mlsite-registry-gc.service"
GC_TIMER = "mlsite-registry-gc.timer"
BINARY = "/usr/bin/docker-registry"
SERVICE_USER = "docker-registry"
"""The user the Debian/Ubuntu package creates and its own unit runs as."""


@dataclass(frozen=True)
class Instance:
    """One registry process."""

    name: str
    """``push``, ``pull`` or ``cache-<name>``."""
    port: int
    storage: str
    htpasswd: str
    readonly: bool = False
    upstream: str | None = None
    """Upstream URL of a pull-through cache."""
    upstream_username: str | None = None
    upstream_password: str | None = None
    """Plain upstream password (written into the 0640 config file only)."""

    @property
    def config_path(self) -> str:
        """Where the instance's config lives."""
        return f"{CONF_DIR}/{self.name}.yml"

    @property
    def service(self) -> str:
        """The systemd unit of the instance."""
        return f"mlsite-registry@{self.name}.service"


def config_yaml(instance: Instance) -> str:
    """The distribution config of one instance."""
    maintenance: dict[str, Any] = {
        "uploadpurging": {
            "enabled": not instance.readonly,
            "age": "168h",
            "interval": "24h",
            "dryrun": False,
        },
        "readonly": {"enabled": instance.readonly},
    }
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "fields": {"instance": instance.name}},
        "storage": {
            "filesystem": {"rootdirectory": instance.storage},
            "delete": {"enabled": instance.upstream is None},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": maintenance,
        },
        "http": {
            "addr": f":{instance.port}",
            "tls": {"certificate": TLS_CERT, "key": TLS_KEY},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {"htpasswd": {"realm": "mlsite-registry", "path": instance.htpasswd}},
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }
    if instance.upstream is not None:
        proxy: dict[str, Any] = {"remoteurl": instance.upstream}
        if instance.upstream_username is not None:
            proxy["username"] = instance.upstream_username
            proxy["password"] = instance.upstream_password or ""
        config["proxy"] = proxy
    header = (
        f"# Managed by mlsite (registry instance {instance.name}); local edits are overwritten.\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def htpasswd(entries: list[tuple[str, str]]) -> str:
    """An htpasswd file of ``(user, bcrypt hash)`` lines, sorted by user."""
    return "".join(f"{user}:{digest}\n" for user, digest in sorted(entries))


def unit() -> str:
    """The template unit every instance runs from."""
    return f"""\
# Managed by mlsite.
[Unit]
Description=mlsite image registry (%i)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={SERVICE_USER}
Group={SERVICE_USER}
ExecStart={BINARY} serve {CONF_DIR}/%i.yml
Restart=on-failure
RestartSec=2
LimitNOFILE=65536
NoNewPrivileges=true
ProtectSystem=full
PrivateTmp=true

[Install]
WantedBy=multi-user.target
"""


def gc_script(main: Instance, readers: list[Instance], delete_untagged: bool) -> str:
    """Garbage collection that cannot corrupt images: the read-write instance is stopped
    (no push can add a reference while blobs are swept), read-only readers keep serving
    (they add no references) and are restarted after, to drop cached blob descriptors."""
    flag = " --delete-untagged" if delete_untagged else ""
    restarts = " ".join(r.service for r in readers)
    restart_readers = f"\n    systemctl try-restart {restarts}" if restarts else ""
    return f"""\
#!/bin/sh
# Managed by mlsite: registry garbage collection with the registry stopped for writes.
set -eu
restore() {{
    systemctl start {main.service}{restart_readers}
}}
trap restore EXIT
systemctl stop {main.service}
runuser -u {SERVICE_USER} -- {BINARY} garbage-collect{flag} {main.config_path}
"""


def gc_units(schedule: str) -> tuple[str, str]:
    """The oneshot GC service and its timer."""
    service = f"""\
# Managed by mlsite.
[Unit]
Description=mlsite image registry garbage collection

[Service]
Type=oneshot
ExecStart={GC_SCRIPT}
"""
    timer = f"""\
# Managed by mlsite.
[Unit]
Description=mlsite image registry garbage collection schedule

[Timer]
OnCalendar={schedule}
Persistent=true
RandomizedDelaySec=10min

[Install]
WantedBy=timers.target
"""
    return service, timer


def health_script(instances: list[Instance]) -> str:
    """A health check: every instance answers ``/v2/`` over TLS verified against the site
    CA, with 401 (authentication required: anonymous access is never allowed)."""
    checks = "\n".join(f"check {i.name} {i.port}" for i in instances)
    return f"""\
#!/bin/sh
# Managed by mlsite: exits non-zero unless every registry instance answers over TLS.
set -u
status=0
check() {{
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        code=$(curl -s -o /dev/null -w '%{{http_code}}' --cacert {TLS_CA} \\
            --resolve "$(hostname):$2:127.0.0.1" "https://$(hostname):$2/v2/")
        [ "$code" = 401 ] && return 0
        sleep 0.5
    done
    echo "registry instance $1 (port $2): HTTP $code, expected 401" >&2
    status=1
}}
{checks}
exit $status
"""

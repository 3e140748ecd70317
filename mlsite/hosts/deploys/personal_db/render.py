"""Pure renderers of the personal database files: the unit template, its timer, set config."""

from __future__ import annotations

import json
from typing import Any

HEADER = "# Managed by mlsite (hosts/deploys/personal_db.py); local edits are overwritten.\n"
RBD_DEV = "/usr/local/sbin/mlsite-rbd-dev"


def db_unit() -> str:
    """mlsite-db@.service: one Postgres on one RBD image (the golden copy or a user's clone).

    The instance's environment file says which image, where to mount it and which port; the
    image is mapped and mounted before Postgres starts and released after it stops."""
    return (
        HEADER
        + "\n".join(
            [
                "[Unit]",
                "Description=mlsite personal database %i (Postgres on an RBD image)",
                "After=network-online.target ceph.target",
                "Wants=network-online.target",
                "",
                "[Service]",
                "Type=notify",
                "User=postgres",
                "Group=postgres",
                "EnvironmentFile=/etc/mlsite-db/%i.env",
                f"ExecStartPre=+{RBD_DEV} ${{MODE}} mount ${{IMAGE}} ${{MOUNT}}",
                "ExecStartPre=+/bin/rm -f ${MOUNT}/data/postmaster.pid",
                # a copy starts from a crash-consistent snapshot: before replaying WAL, Postgres
                # makes sure the data directory is on disk; one syncfs() instead of an fsync()
                # per file (on a lab copy: 0.035 s instead of 0.14 s)
                'ExecStart=/bin/sh -c \'exec "$PGBIN/postgres" -D "$MOUNT/data" -p "$PORT" '
                "-k /run/postgresql -c listen_addresses=* -c recovery_init_sync_method=syncfs'",
                f"ExecStopPost=+{RBD_DEV} ${{MODE}} umount ${{IMAGE}} ${{MOUNT}}",
                "KillMode=mixed",
                "KillSignal=SIGINT",
                "TimeoutStartSec=300",
                "TimeoutStopSec=120",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
            ]
        )
        + "\n"
    )


def expire_service() -> str:
    """mlsite-db-expire@.service: drop the expired copies of one set."""
    return (
        HEADER
        + "\n".join(
            [
                "[Unit]",
                "Description=Drop expired personal database copies of %i",
                "",
                "[Service]",
                "Type=oneshot",
                "ExecStart=/usr/local/sbin/mlsite-db %i expire",
            ]
        )
        + "\n"
    )


def expire_timer() -> str:
    """mlsite-db-expire@.timer: every ten minutes."""
    return (
        HEADER
        + "\n".join(
            [
                "[Unit]",
                "Description=Drop expired personal database copies of %i every ten minutes",
                "",
                "[Timer]",
                "OnCalendar=*:0/10",
                "Persistent=true",
                "",
                "[Install]",
                "WantedBy=timers.target",
            ]
        )
        + "\n"
    )


def set_config(values: dict[str, Any]) -> str:
    """/etc/mlsite-db/<set>.json, read by ``mlsite-db``."""
    return json.dumps(values, indent=1, sort_keys=True) + "\n"


def golden_env(pool: str, image: str, mount: str, port: int, mode: str, version: str) -> str:
    """/etc/mlsite-db/<set>-golden.env."""
    return (
        f"IMAGE={pool}/{image}\nMOUNT={mount}\nPORT={port}\nMODE={mode}\n"
        f"PGBIN=/usr/lib/postgresql/{version}/bin\n"
    )

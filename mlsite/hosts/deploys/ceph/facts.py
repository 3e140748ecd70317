"""Facts the Ceph deploy reads: the cluster's state as JSON, its keys, what a disk holds."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api.facts import FactBase

STATE_COMMAND = (
    "if [ -r /etc/ceph/{c}.client.admin.keyring ] && "
    "d=$(timeout 15 ceph --cluster {c} osd dump -f json 2>/dev/null); then "
    "r=$(ceph --cluster {c} osd crush rule dump -f json); "
    "f=$(ceph --cluster {c} fs ls -f json); "
    "g=$(ceph --cluster {c} config dump -f json); "
    'echo "{{\\"osd\\": $d, \\"rules\\": $r, \\"fs\\": $f, \\"config\\": $g}}"; '
    "else echo '{{}}'; fi"
)


class CephState(FactBase[dict[str, Any]]):
    """``{"osd": osd dump, "rules": crush rule dump, "fs": fs ls, "config": config dump}``; ``{}`` when no
    cluster answers (not bootstrapped yet, or no admin key on this host)."""

    def command(self, cluster: str) -> str:
        return STATE_COMMAND.format(c=cluster)

    @staticmethod
    def default() -> dict[str, Any]:
        return {}

    def process(self, output: list[str]) -> dict[str, Any]:
        data = json.loads("\n".join(output) or "{}")
        return data if isinstance(data, dict) else {}


class CephKeyring(FactBase[str]):
    """The text of a keyring file ("" when absent). Holds secrets: never logged."""

    def command(self, path: str) -> str:
        return f"cat {path} 2>/dev/null || true"

    @staticmethod
    def default() -> str:
        return ""

    def process(self, output: list[str]) -> str:
        return "\n".join(output)


class OsdOnDisk(FactBase[str]):
    """The OSD uuid in the bluestore label at the start of a device ("" when none)."""

    def command(self, path: str) -> str:
        return (
            f'd=$(readlink -f {path}); [ -b "$d" ] || exit 0; '
            'head -c 60 "$d" | awk \'NR==1 && $0 != "bluestore block device" {exit} '
            "NR==2 {print; exit}' || true"
        )

    @staticmethod
    def default() -> str:
        return ""

    def process(self, output: list[str]) -> str:
        return "\n".join(output).strip()


class CephCandidate(FactBase[str]):
    """The ceph-common version apt would install (the installed one when apt offers none);
    "" when the host's package sources offer no Ceph."""

    def command(self) -> str:
        return CANDIDATE_COMMAND

    @staticmethod
    def default() -> str:
        return ""

    def process(self, output: list[str]) -> str:
        return "".join(output).strip()


CANDIDATE_COMMAND = (
    "v=$(apt-cache policy ceph-common 2>/dev/null | awk '/Candidate:/ {print $2}'); "
    'if [ -z "$v" ] || [ "$v" = \'(none)\' ]; then '
    "v=$(dpkg-query -W -f='${Version}' ceph-common 2>/dev/null); fi; echo \"$v\""
)
"""What ``CephCandidate`` runs."""


class LocalOsds(FactBase[dict[str, dict[str, str]]]):
    """This host's OSD directories of the cluster: OSD uuid -> ``{"id": ..., "device": ...}``
    (the id the cluster gave, the device its ``block`` link points at). Only directories
    that ``ceph-osd --mkfs`` completed (``whoami`` and ``fsid`` written) count."""

    def command(self, cluster: str) -> str:
        return (
            f"for d in /var/lib/ceph/osd/{cluster}-*; do "
            '[ -s "$d/whoami" ] && [ -s "$d/fsid" ] || continue; '
            'echo "$(cat "$d/fsid") $(cat "$d/whoami") $(readlink "$d/block")"; done; true'
        )

    @staticmethod
    def default() -> dict[str, dict[str, str]]:
        return {}

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for line in output:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                found[parts[0]] = {"id": parts[1], "device": parts[2] if len(parts) > 2 else ""}
        return found

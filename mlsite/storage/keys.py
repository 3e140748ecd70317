"""Ceph keys (cephx secrets) and keyrings, made and read without Ceph's tools."""

from __future__ import annotations

import base64
import os
import re
import struct
import time

_KEY = re.compile(r"^\s*\[(?P<entity>[^\]]+)\]\s*$|^\s*key\s*=\s*(?P<key>\S+)\s*$")


def generate_key(now: float | None = None) -> str:
    """A new cephx secret, as ``ceph-authtool --gen-print-key`` prints it.

    Ceph's encoding: type (u16, 1 = AES), creation time (u32 seconds, u32 ns), length
    (u16, 16), then 16 random bytes; base64."""
    stamp = time.time() if now is None else now
    header = struct.pack("<HIIH", 1, int(stamp), int((stamp % 1) * 1e9), 16)
    return base64.b64encode(header + os.urandom(16)).decode()


def is_key(text: str) -> bool:
    """Whether ``text`` is a well-formed cephx secret."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return len(raw) == 28 and struct.unpack("<H", raw[:2])[0] == 1 and raw[10:12] == b"\x10\x00"


def parse_keyring(text: str) -> dict[str, str]:
    """``entity -> key`` of every entry in a keyring file."""
    keys: dict[str, str] = {}
    entity: str | None = None
    for line in text.splitlines():
        match = _KEY.match(line)
        if match is None:
            continue
        if match["entity"] is not None:
            entity = match["entity"]
        elif entity is not None and match["key"] is not None:
            keys[entity] = match["key"]
    return keys


def keyring(entries: dict[str, tuple[str, dict[str, str]]]) -> str:
    """A keyring file: ``entity -> (key, caps)``, entities and caps sorted."""
    lines: list[str] = []
    for entity in sorted(entries):
        key, caps = entries[entity]
        lines += [f"[{entity}]", f"\tkey = {key}"]
        lines += [f'\tcaps {kind} = "{cap}"' for kind, cap in sorted(caps.items())]
    return "\n".join(lines) + "\n"

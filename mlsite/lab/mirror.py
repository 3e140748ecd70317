"""The Debian mirror the lab uses, read from this machine's apt sources at run time.

Nothing here names a mirror host: the parent's own configuration decides, and env
MLSITE_LAB_MIRROR overrides the main archive (debootstrap's mirror and the lab hosts').
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlsite.lab.errors import LabError

APT_DIR = Path("/etc/apt")


@dataclass(frozen=True)
class AptSource:
    """One `deb` source: an archive URI, its suites and components."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]

    @property
    def is_security(self) -> bool:
        """Whether this is the security archive (its suites end in -security)."""
        return any(s.endswith("-security") or "/updates" in s for s in self.suites)


def _parse_deb822(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        components = tuple(fields.get("components", "main").split())
        sources.extend(AptSource(uri, suites, components) for uri in fields.get("uris", "").split())
    return sources


def _parse_one_line(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        rest = line[len("deb ") :].strip()
        if rest.startswith("["):  # options such as [signed-by=...]
            rest = rest.split("]", 1)[1]
        words = rest.split()
        if len(words) >= 2:
            sources.append(AptSource(words[0], (words[1],), tuple(words[2:]) or ("main",)))
    return sources


def host_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """The `deb` sources configured on this machine (http/https ones only)."""
    found: list[AptSource] = []
    main_list = apt_dir / "sources.list"
    if main_list.is_file():
        found += _parse_one_line(main_list.read_text())
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".sources":
                found += _parse_deb822(path.read_text())
            elif path.suffix == ".list":
                found += _parse_one_line(path.read_text())
    return [s for s in found if s.uri.startswith(("http://", "https://"))]


def _for_suite(source: AptSource, suite: str) -> AptSource:
    """The same archive for another release: "bookworm-updates" becomes "trixie-updates"."""
    suites = tuple(suite + s[s.index("-") :] if "-" in s else suite for s in source.suites)
    return AptSource(source.uri, suites, source.components)


def lab_sources(apt_dir: Path = APT_DIR, *, suite: str | None = None) -> list[AptSource]:
    """The sources lab hosts use: this machine's Debian ones, the main archive overridable,
    for release ``suite`` (default: this machine's own)."""
    override = os.environ.get("MLSITE_LAB_MIRROR")
    sources = [s for s in host_sources(apt_dir) if "debian" in s.uri]
    if override:
        sources = [
            s if s.is_security else AptSource(override.rstrip("/"), s.suites, s.components)
            for s in sources
        ]
        if not any(not s.is_security for s in sources):
            sources.insert(0, AptSource(override.rstrip("/"), (suite or "bookworm",), ("main",)))
    if not any(not s.is_security for s in sources):
        raise LabError(
            "no Debian mirror found in /etc/apt/sources.list(.d); set MLSITE_LAB_MIRROR to a Debian mirror URL"
        )
    if suite is not None:
        sources = [_for_suite(s, suite) for s in sources]
    return sources


def debian_mirror(apt_dir: Path = APT_DIR) -> str:
    """The main Debian archive URL (for debootstrap and apt-cacher-ng's Debian backend)."""
    return next(s.uri for s in lab_sources(apt_dir) if not s.is_security).rstrip("/") + "/"


def render_sources(sources: list[AptSource]) -> str:
    """The deb822 `.sources` file lab hosts get."""
    stanzas = [
        f"Types: deb\nURIs: {s.uri}\nSuites: {' '.join(s.suites)}\nComponents: {' '.join(s.components)}\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        for s in sources
    ]
    return "\n".join(stanzas)

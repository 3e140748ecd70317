"""The OsRelease fact: os-release files as Debian and Ubuntu ship them."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from mlsite.hosts.distro import Distro, UnsupportedDistribution, distro
from mlsite.hosts.facts import OsRelease

DEBIAN_12 = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""
DEBIAN_13 = """PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.8
ID=debian
HOME_URL="https://www.debian.org/"
"""
UBUNTU_22 = """PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
"""
UBUNTU_24 = UBUNTU_22.replace("22.04", "24.04").replace("jammy", "noble")


@pytest.mark.parametrize(
    ("text", "name", "major", "minor", "codename"),
    [
        (DEBIAN_12, "Debian", 12, None, "bookworm"),
        (DEBIAN_13, "Debian", 13, None, "trixie"),
        (UBUNTU_22, "Ubuntu", 22, 4, "jammy"),
        (UBUNTU_24, "Ubuntu", 24, 4, "noble"),
        ('ID=rocky\nNAME="Rocky Linux"\nVERSION_ID="9.3"\n', "Rocky Linux", 9, 3, None),
    ],
)
def test_os_release_is_parsed(
    text: str, name: str, major: int, minor: int | None, codename: str | None
) -> None:
    fact = OsRelease().process(text.splitlines())
    assert (fact["name"], fact["major"], fact["minor"]) == (name, major, minor)
    assert fact["release_meta"].get("VERSION_CODENAME") == codename


def test_comments_blank_lines_and_bad_quotes_are_tolerated() -> None:
    fact = OsRelease().process(["# comment", "", "ID=debian", 'VERSION_ID="12', "junk"])
    assert (fact["name"], fact["major"]) == ("Debian", 12)
    assert OsRelease().process([]) == OsRelease.default()


@pytest.mark.parametrize(
    ("text", "codename", "netplan", "nvidia_repo"),
    [
        (DEBIAN_12, "bookworm", False, "debian12"),
        (DEBIAN_13, "trixie", False, "debian13"),
        (UBUNTU_22, "jammy", True, "ubuntu2204"),
        (UBUNTU_24, "noble", True, "ubuntu2404"),
    ],
)
def test_supported_releases_map_to_their_paths(
    text: str, codename: str, netplan: bool, nvidia_repo: str
) -> None:
    d = _distro_of(text)
    assert (d.codename, d.uses_netplan, d.nvidia_repo) == (codename, netplan, nvidia_repo)


@pytest.mark.parametrize(
    "text",
    [DEBIAN_12.replace('"12"', '"11"'), UBUNTU_22.replace("22.04", "20.04"), "ID=rocky\n"],
)
def test_other_releases_are_refused_with_the_supported_list(text: str) -> None:
    with pytest.raises(UnsupportedDistribution, match="supported: Debian 12, Debian 13"):
        _distro_of(text)


def _distro_of(text: str) -> Distro:
    fact = OsRelease().process(text.splitlines())
    with patch("mlsite.hosts.distro.host") as fake:
        fake.name = "h1"
        fake.get_fact.return_value = fact
        return distro()

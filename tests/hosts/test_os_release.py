"""The OsRelease fact: os-release files as Debian and Ubuntu ship them."""

from __future__ import annotations

import pytest

from hosts.facts import OsRelease

DEBIAN_12 = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
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

"""The Debian mirror comes from this machine's apt sources, never from the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlsite.lab import LabError
from mlsite.lab.mirror import debian_mirror, lab_sources, render_sources


def apt_dir(tmp_path: Path, deb822: str = "", one_line: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir()
    if deb822:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(deb822)
    if one_line:
        (tmp_path / "sources.list").write_text(one_line)
    return tmp_path


DEB822 = """Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_reads_deb822_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLSITE_LAB_MIRROR", raising=False)
    d = apt_dir(tmp_path, deb822=DEB822)
    assert debian_mirror(d) == "http://mirror.example/debian/"
    sources = lab_sources(d)
    assert [s.uri for s in sources] == [
        "http://mirror.example/debian",
        "http://mirror.example/debian-security",
    ]
    assert "Components: main contrib" in render_sources(sources)


def test_reads_one_line_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLSITE_LAB_MIRROR", raising=False)
    d = apt_dir(
        tmp_path, one_line="# x\ndeb [signed-by=/k.gpg] http://one.example/debian bookworm main\n"
    )
    assert debian_mirror(d) == "http://one.example/debian/"


def test_env_overrides_the_main_archive_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSITE_LAB_MIRROR", "http://override.example/debian")
    d = apt_dir(tmp_path, deb822=DEB822)
    assert debian_mirror(d) == "http://override.example/debian/"
    assert [s.uri for s in lab_sources(d)][1] == "http://mirror.example/debian-security"


def test_no_mirror_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLSITE_LAB_MIRROR", raising=False)
    with pytest.raises(LabError, match="MLSITE_LAB_MIRROR"):
        debian_mirror(apt_dir(tmp_path))


def test_sources_follow_the_lab_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLSITE_LAB_MIRROR", raising=False)
    d = apt_dir(tmp_path, deb822=DEB822)
    assert [s.suites for s in lab_sources(d, suite="trixie")] == [
        ("trixie", "trixie-updates"),
        ("trixie-security",),
    ]
    assert lab_sources(d)[0].suites == ("bookworm", "bookworm-updates")

"""Fixtures of the host-layer tests: the lab site and role parameters built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlsite.spec import SiteSpec, load_stack

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def lab_site() -> SiteSpec:
    """The lab stack's site description."""
    return load_stack("lab").site

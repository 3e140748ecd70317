"""The pinned versions shared by host deploys, components and images.

One data file (``mlsite/data/versions.yaml``) holds every version mlsite installs, so a
bump is one reviewed line.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def pins() -> dict[str, Any]:
    """Return the pinned versions as a nested mapping (read once per process)."""
    text = resources.files("mlsite").joinpath("data/versions.yaml").read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise RuntimeError("mlsite/data/versions.yaml must be a mapping")
    return data


def pin(*path: str) -> str:
    """Return one pinned version, e.g. ``pin("nvidia", "driver")``."""
    node: Any = pins()
    for key in path:
        node = node[key]
    return str(node)

"""The host layer: pyinfra deploys applied through a Pulumi dynamic provider.

Names are loaded lazily, so that the engine's provider process, which imports
``components.hosts.provider``, does not import Pulumi components or the site model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.hosts.deploy import HostDeploy, HostDeployArgs
    from components.hosts.hosts import Hosts
    from components.hosts.provider import HostDeployProvider

_WHERE = {
    "HostDeploy": "components.hosts.deploy",
    "HostDeployArgs": "components.hosts.deploy",
    "Hosts": "components.hosts.hosts",
    "HostDeployProvider": "components.hosts.provider",
}

__all__ = ["HostDeploy", "HostDeployArgs", "HostDeployProvider", "Hosts"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

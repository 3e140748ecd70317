"""The host layer: pyinfra deploys applied through a Pulumi dynamic provider.

Names are loaded lazily, so that the engine's provider process, which imports
``mlsite.components.hosts.provider``, does not import Pulumi components or the site model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
    from mlsite.components.hosts.hosts import Hosts
    from mlsite.components.hosts.provider import HostDeployProvider

_WHERE = {
    "HostDeploy": "mlsite.components.hosts.deploy",
    "HostDeployArgs": "mlsite.components.hosts.deploy",
    "Hosts": "mlsite.components.hosts.hosts",
    "HostDeployProvider": "mlsite.components.hosts.provider",
}

__all__ = ["HostDeploy", "HostDeployArgs", "HostDeployProvider", "Hosts"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

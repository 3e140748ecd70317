"""The registry part of a site: ``Registry`` and the generated site CA ``SiteCa``."""

from mlsite.components.registry.ca import SiteCa
from mlsite.components.registry.registry import Registry

__all__ = ["Registry", "SiteCa"]

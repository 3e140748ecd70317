"""The registry part of a site: ``Registry`` and the generated site CA ``SiteCa``."""

from components.registry.ca import SiteCa
from components.registry.registry import Registry

__all__ = ["Registry", "SiteCa"]

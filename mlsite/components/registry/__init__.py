"""The registry part of a site: ``Registry`` (the site CA is ``mlsite.components.ca``)."""

from mlsite.components.registry.registry import Registry, RegistryArgs

__all__ = ["Registry", "RegistryArgs"]

"""The runtime images of a site: ``RuntimeImage`` (built by the ``image_build`` host role)."""

from mlsite.components.images.runtime_image import RuntimeImage

__all__ = ["RuntimeImage"]

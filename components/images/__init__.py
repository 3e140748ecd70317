"""The runtime images of a site: ``RuntimeImage`` and its ``ImageBuild`` resource."""

from components.images.build import ImageBuild
from components.images.runtime_image import RuntimeImage

__all__ = ["ImageBuild", "RuntimeImage"]

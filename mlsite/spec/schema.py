"""JSON Schema of stack files and of the site description."""

from __future__ import annotations

from typing import Any

from mlsite.spec.load import CONFIG_KEY
from mlsite.spec.model import SiteSpec


def stack_file_schema(*, site_only: bool = False) -> dict[str, Any]:
    """The JSON Schema of a ``stacks/Pulumi.<stack>.yaml`` file (or of the site alone)."""
    site = SiteSpec.model_json_schema(mode="validation")
    site["title"] = "mlsite site description"
    if site_only:
        return site
    defs = site.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlsite stack file (stacks/Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": {CONFIG_KEY: {"$ref": "#/$defs/SiteSpec"}},
                "required": [CONFIG_KEY],
            },
            "secretsprovider": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "encryptedkey": {"type": "string"},
        },
        "required": ["config"],
        "$defs": {**defs, "SiteSpec": site},
    }

"""The ``__provider`` input of mlsite's dynamic resources, pickled once per process.

``pulumi.dynamic.Resource.__init__`` pickles its provider object (dill, with sorted
dictionaries) for every resource it creates. mlsite's providers are built without
arguments and hold no state worth pickling (``HostDeployProvider`` drops its credentials
from every pickle), so every resource of one provider class gets the same text: it is made
once per class and shared. Resource classes call ``CustomResource.__init__`` with
``dynamic_props(...)`` instead of ``pulumi.dynamic.Resource.__init__``.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import PROVIDER_KEY, serialize_provider

_BLOBS: dict[type[ResourceProvider], str] = {}


def provider_blob(provider_cls: type[ResourceProvider]) -> str:
    """The pickled ``provider_cls()``, as ``pulumi.dynamic.Resource`` would store it."""
    blob = _BLOBS.get(provider_cls)
    if blob is None:
        blob = _BLOBS[provider_cls] = serialize_provider(provider_cls())
    return blob


def dynamic_props(provider_cls: type[ResourceProvider], props: dict[str, Any]) -> dict[str, Any]:
    """``props`` with ``__provider`` set as ``pulumi.dynamic.Resource.__init__`` sets it: the
    pickle, a secret unless the class says ``serialize_as_secret_always = False`` (the
    pickle of a stateless provider captures no secret output, so that is the only case)."""
    if PROVIDER_KEY in props:
        raise ValueError("a dynamic resource must not define the __provider key")
    blob = provider_blob(provider_cls)
    always_secret = getattr(provider_cls, "serialize_as_secret_always", True)
    return {**props, PROVIDER_KEY: pulumi.Output.secret(blob) if always_secret else blob}

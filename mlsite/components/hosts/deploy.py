"""``HostDeploy``: one deploy applied to one group of hosts, as a Pulumi resource."""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import CustomResource
from pulumi.dynamic import Resource
from pydantic import BaseModel

from mlsite.components.dynamic import dynamic_props
from mlsite.components.hosts.inputs import (
    HostGroup,
    code_hash,
    file_hashes,
    host_entry,
    render_params,
)
from mlsite.components.hosts.provider import HostDeployProvider


@dataclass(frozen=True)
class HostDeployArgs:
    """What a HostDeploy applies: a role, its hosts and its rendered parameters."""

    group: HostGroup
    params: BaseModel | dict[str, Any] | pulumi.Output[Any]
    """The role's Params (from ``mlsite.hosts.roles``); secrets in it stay secret. An ``Output``
    when the params depend on other resources (e.g. the site CA kept in Pulumi state)."""

    def inputs(self) -> dict[str, Any]:
        """The resource inputs: readable desired state; secret values only in ``secrets``."""
        inputs: dict[str, Any] = {
            "role": self.group.role,
            "group": self.group.name,
            "hosts": [host_entry(h) for h in self.group.hosts],
            "files": file_hashes(self.group.role),
            "code": code_hash(self.group.role),
        }
        if isinstance(self.params, pulumi.Output):
            rendered_later = self.params.apply(render_params)
            # The secrets were moved out by render_params, so what remains is readable
            # even when it was derived from a secret output (the CA key, say).
            inputs["params"] = pulumi.Output.unsecret(rendered_later.apply(lambda r: r.params))
            inputs["secrets"] = pulumi.Output.secret(rendered_later.apply(lambda r: r.secrets))
            return inputs
        rendered = render_params(self.params)
        inputs["params"] = rendered.params
        if rendered.secrets:  # present only when params hold secret values
            inputs["secrets"] = pulumi.Output.secret(rendered.secrets)
        return inputs


class HostDeploy(Resource, module="hosts", name="HostDeploy"):
    """Applies one deploy to a group of hosts (via ``mlsite.hosts.runner``)."""

    role: pulumi.Output[str]
    """The role applied."""
    hosts: pulumi.Output[list[dict[str, Any]]]
    """The hosts of the group (name, address, port, user, key file path)."""
    changed: pulumi.Output[int]
    """Operations that changed something in the last apply (0: already converged)."""
    drift: pulumi.Output[dict[str, list[str]]]
    """Per host, operations the last refresh found would change (empty: no drift)."""

    def __init__(
        self,
        name: str,
        args: HostDeployArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        props: dict[str, Any] = {**args.inputs(), "changed": None, "drift": None, "results": None}
        opts = pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                additional_secret_outputs=["secrets"], depends_on=list(depends_on)
            ),
        )
        # What pulumi.dynamic.Resource.__init__ does, minus re-pickling the provider each time.
        props = dynamic_props(HostDeployProvider, props)
        CustomResource.__init__(
            self, f"pulumi-python:{self._resource_type_name}", name, props, opts
        )

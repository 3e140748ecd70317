"""The host-layer planner: the HostDeploys that apply one deploy to its hosts.

Every component that applies a deploy (``Hosts`` for most, ``Registry``, ``CephCluster``,
``NfsHa``, ``PersonalDatabases``, ``RuntimeImage`` for those needing other resources' values)
goes through ``apply_deploy``, so host groups, protection of data-bearing deploys, the site
CA and the wait for other resources are decided in one place.
"""

# Annotations evaluated at import (no __future__ import): see components/__init__.py.

from collections.abc import Callable, Sequence
from typing import Any

import pulumi
from pydantic import BaseModel

from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import MAX_GROUP_HOSTS, HostGroup, plan_groups
from mlsite.components.options import child_options
from mlsite.hosts import deploys
from mlsite.hosts.deploys import Deploy
from mlsite.spec import Host

Params = BaseModel | dict[str, Any] | pulumi.Output[Any]


def apply_deploy(
    owner: pulumi.ComponentResource,
    owner_name: str,
    owner_opts: pulumi.ResourceOptions | None,
    deploy: Deploy,
    hosts: Sequence[Host],
    params: Callable[[tuple[Host, ...]], Params],
    *,
    after: Sequence[Any] = (),
    ca_pem: pulumi.Input[str] | None = None,
    max_group_hosts: int | None = MAX_GROUP_HOSTS,
    label: str | None = None,
    renamed_from: Callable[[str], str] | None = None,
    group: str | None = None,
) -> dict[str, HostDeploy]:
    """HostDeploys applying ``deploy`` to ``hosts``, children of ``owner``.

    - groups of at most ``max_group_hosts`` hosts (None: one group, called ``group`` or
      after the deploy, for deploys whose hosts must run together, like a cluster's
      bootstrap);
    - named ``<owner>-<group>``, where ``label`` stands for the deploy's name in the group
      name (``akiba-ceph-hosts``, not ``akiba-ceph-ceph``); a renamed child keeps its old
      name (``renamed_from(group name)``, the part after ``<owner>-``) as an alias, so a
      deployed stack sees no replacement;
    - protected when the deploy holds data, else protected as the owner is;
    - waiting for ``after`` and for whatever the owner was told to wait for;
    - ``ca_pem`` filled into parameters that have a ``ca_pem`` field and no CA yet.
    """
    if max_group_hosts is None:
        groups = [HostGroup(deploy.name, group or deploy.name, tuple(hosts))] if hosts else []
    else:
        groups = plan_groups(deploy.name, hosts, max_group_hosts)
    made: dict[str, HostDeploy] = {}
    for g in groups:
        suffix = label if max_group_hosts is None and label else _label(g.name, deploy.name, label)
        name = f"{owner_name}-{suffix}"
        old = f"{owner_name}-{renamed_from(g.name)}" if renamed_from else name
        aliases = [pulumi.Alias(name=old)] if old != name else None
        made[g.name] = HostDeploy(
            name,
            HostDeployArgs(g, with_ca(params(g.hosts), ca_pem)),
            child_options(
                owner,
                owner_opts,
                depends_on=after,
                protect=True if deploy.holds_data else None,
                aliases=aliases,
            ),
        )
    return made


def apply_one(
    owner: pulumi.ComponentResource,
    owner_name: str,
    owner_opts: pulumi.ResourceOptions | None,
    deploy: str,
    hosts: Sequence[Host],
    params: Params,
    *,
    after: Sequence[Any] = (),
    label: str,
    renamed_from: str | None = None,
    group: str | None = None,
) -> HostDeploy:
    """The one HostDeploy of a deploy whose hosts must run together (a cluster's bootstrap,
    a pair's failover, one build host): ``apply_deploy`` with a single group named
    ``<owner>-<label>``, formerly ``<owner>-<renamed_from>``."""
    (made,) = apply_deploy(
        owner,
        owner_name,
        owner_opts,
        deploys.get(deploy),
        hosts,
        lambda _: params,
        after=after,
        max_group_hosts=None,
        label=label,
        renamed_from=(lambda _: renamed_from) if renamed_from else None,
        group=group,
    ).values()
    return made


def _label(group: str, deploy: str, label: str | None) -> str:
    if label is None:
        return group
    return label + group.removeprefix(deploy)


def with_ca(params: Params, ca_pem: pulumi.Input[str] | None) -> Params:
    """``params`` with the site CA filled in, for deploys whose parameters take one."""
    if (
        ca_pem is None
        or not isinstance(params, BaseModel)
        or "ca_pem" not in type(params).model_fields
    ):
        return params
    if params.ca_pem is not None:  # type: ignore[attr-defined]
        return params  # the deploy already has a CA (a provided one)
    return pulumi.Output.from_input(ca_pem).apply(
        lambda pem: params.model_copy(update={"ca_pem": pem}) if pem else params
    )

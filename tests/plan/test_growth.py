"""A growing site keeps its resources: crossing a host-group boundary renames nothing."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from mlsite.components.hosts.inputs import MAX_GROUP_HOSTS
from mlsite.plan.diff import EXIT_OK, diff_plans
from mlsite.plan.run import plan_site_data
from mlsite.plan.synthetic import generated_site


@cache
def plan(hosts: int) -> str:
    return json.dumps(plan_site_data(generated_site(hosts), "grow").doc())


def _diff(before: int, after: int) -> Any:
    return diff_plans(json.loads(plan(before)), json.loads(plan(after)))


def test_crossing_a_group_boundary_adds_groups_and_renames_nothing() -> None:
    d = _diff(MAX_GROUP_HOSTS, MAX_GROUP_HOSTS + 1)
    assert d.exit_code == EXIT_OK
    assert not d.of("delete") and not d.of("replace")
    added = sorted(c.name for c in d.of("add"))
    assert added and all(name.endswith("-2") for name in added), added


def test_one_more_host_past_the_boundary_touches_only_the_last_groups() -> None:
    d = _diff(MAX_GROUP_HOSTS + 1, MAX_GROUP_HOSTS + 2)
    assert not d.of("add") and not d.of("delete") and not d.of("replace")
    grew = {c.name for c in d.of("update") if any(f.path.startswith("hosts") for f in c.fields)}
    assert grew, "the new host joined no group: the case tests nothing"
    groups: dict[str, list[str]] = {}  # deploy -> its HostDeploys, in group order
    for r in json.loads(plan(MAX_GROUP_HOSTS + 2))["resources"]:
        if r["type"].endswith(":HostDeploy"):
            groups.setdefault(r["inputs"]["role"], []).append(r["name"])
    for names in groups.values():
        if len(names) > 1:  # only the last group of a deploy takes the new host
            first = min(names, key=len)
            last = next(n for n in names if n.endswith(f"-{len(names)}"))
            assert first not in grew, first
            assert last in grew, last

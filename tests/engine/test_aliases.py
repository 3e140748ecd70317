"""A renamed child keeps its deployed resource: the real engine follows mlsite's aliases.

Version 1 of a program names a HostDeploy the way mlsite once did (``x-ceph-ceph``); version 2
builds it through ``apply_deploy`` with a label and ``renamed_from`` (``x-ceph-hosts``). The real
``pulumi preview`` of version 2 on the state of version 1 creates, deletes and replaces nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.engine.conftest import ROOT, EngineProject

FAKE_RUNNER = f"{sys.executable} {ROOT / 'tests' / 'components' / 'fake_runner.py'}"

PROGRAM = """
import pulumi
from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import HostGroup
from mlsite.components.hosts.layer import apply_deploy
from mlsite.hosts import deploys
from mlsite.spec import Host

HOST = Host.model_validate({{"name": "h1", "address": "10.0.0.1", "roles": ["ceph-mon"]}})
PARAMS = {{"anything": 1}}


class Part(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("mlsite:storage:CephCluster", name, None, None)
        if {version} == 1:
            HostDeploy(
                f"{{name}}-ceph",
                HostDeployArgs(HostGroup("ceph", "ceph", (HOST,)), PARAMS),
                pulumi.ResourceOptions(parent=self, protect=True),
            )
        else:
            apply_deploy(
                self, name, None, deploys.get("ceph"), (HOST,), lambda _: PARAMS,
                max_group_hosts=None, label="hosts", renamed_from=lambda group: group,
            )
        self.register_outputs({{}})


Part("x-ceph")
"""


def _program(project: EngineProject, version: int) -> None:
    (project.root / "stacks" / "aliases.py").write_text(PROGRAM.format(version=version))


def test_a_child_renamed_with_an_alias_is_neither_created_nor_deleted(
    engine_project: EngineProject, tmp_path: Path
) -> None:
    project = engine_project
    project.env.update(MLSITE_HOST_RUNNER=FAKE_RUNNER, FAKE_RUNNER_STATE=str(tmp_path))
    project.stack("aliases")
    _program(project, 1)
    project.pulumi("up", "--yes", "--skip-preview", "--non-interactive", "--stack", "aliases")

    before = _resources(project)
    assert "x-ceph-ceph" in before

    _program(project, 2)
    preview = project.preview_json("aliases")
    summary = preview.get("changeSummary", {})
    assert set(summary) <= {"same"}, summary  # nothing created, deleted, replaced or updated
    ops = {s["op"] for s in preview["steps"]}
    assert not {"create", "delete", "replace", "create-replacement", "delete-replaced"} & ops

    project.pulumi("up", "--yes", "--skip-preview", "--non-interactive", "--stack", "aliases")
    after = _resources(project)
    assert "x-ceph-ceph" not in after
    assert after["x-ceph-hosts"]["id"] == before["x-ceph-ceph"]["id"]  # the same resource
    assert after["x-ceph-hosts"]["protect"]
    requests = (tmp_path / "requests.jsonl").read_text().splitlines()
    assert len(requests) == 1  # the rename touched no host: only version 1's create did


def _resources(project: EngineProject) -> dict[str, dict[str, object]]:
    import json

    out = project.pulumi("stack", "export", "--stack", "aliases")
    return {
        r["urn"].rsplit("::", 1)[1]: r
        for r in json.loads(out.stdout)["deployment"]["resources"]
        if r["type"] == "pulumi-python:dynamic/hosts:HostDeploy"
    }

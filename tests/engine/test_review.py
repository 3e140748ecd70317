"""The real engine tells the review's story: ``pulumi preview --diff`` of a HostDeploy shows
only the list items that change, matched by identity, warns of the data at risk, and
``pulumi up`` shows what a deploy left alone and reports.

The engine, the language host and the dynamic provider server are the real ones; the host
runner is the contract's stand-in (no hosts are needed to review)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import EngineProject
from tests.engine.test_aliases import FAKE_RUNNER

PROGRAM = """
import pulumi
from mlsite.components.hosts.deploy import HostDeploy, HostDeployArgs
from mlsite.components.hosts.inputs import HostGroup
from mlsite.spec import Host

HOSTS = tuple(
    Host.model_validate({{"name": n, "address": a, "roles": ["ceph-mon", "ceph-osd"]}})
    for n, a in (("h1", "10.0.0.1"), ("h2", "10.0.0.2"))
)
POOLS = [{{"name": n, "application": "rbd", "size": 3}} for n in {pools!r}]
OSDS = [{{"host": h, "device": d, "uuid": f"{{h}}{{d}}"}} for h, d in {osds!r}]
HostDeploy(
    "x-ceph-hosts",
    HostDeployArgs(HostGroup("ceph", "ceph", HOSTS), {{"fsid": "f", "pools": POOLS, "osds": OSDS}}),
    pulumi.ResourceOptions(protect=True),
)
"""
BEFORE = {
    "pools": ["rbd", "db", "scratch"],
    "osds": [("h1", "/dev/disk/by-id/a"), ("h1", "/dev/disk/by-id/b"), ("h2", "/dev/disk/by-id/a")],
}
AFTER = {"pools": ["rbd", "scratch"], "osds": [BEFORE["osds"][0], BEFORE["osds"][2]]}
REPORTED = "osd.7 on /dev/disk/by-id/c is no longer described: it keeps running"


def _program(project: EngineProject, version: dict[str, list[object]]) -> None:
    (project.root / "stacks" / "review.py").write_text(PROGRAM.format(**version))


def test_preview_shows_items_by_identity_and_warns_of_data_at_risk(
    engine_project: EngineProject, tmp_path: Path
) -> None:
    project = engine_project
    project.env.update(
        MLSITE_HOST_RUNNER=FAKE_RUNNER,
        FAKE_RUNNER_STATE=str(tmp_path),
        FAKE_RUNNER_NOTICES=json.dumps({"h1": [REPORTED]}),
    )
    project.stack("review")
    _program(project, BEFORE)
    up = project.pulumi("up", "--yes", "--skip-preview", "--non-interactive", "--stack", "review")
    # what the deploy left alone reaches the engine's display, on its resource
    assert f"h1: {REPORTED}" in up.stdout, up.stdout

    _program(project, AFTER)
    preview = project.preview_json("review")
    [step] = [s for s in preview["steps"] if s["urn"].endswith("::x-ceph-hosts")]
    assert step["op"] == "update"
    # the pool and the OSD that go, by their position in the old lists; nothing renamed
    assert set(step["detailedDiff"]) == {"params.osds[1]", "params.pools[1]"}, step
    assert {d["kind"] for d in step["detailedDiff"].values()} == {"delete"}
    warnings = [
        d["message"] for d in preview.get("diagnostics", []) if d.get("severity") == "warning"
    ]
    text = "\n".join(warnings)
    assert "data at risk: pool db leaves the description" in text, warnings
    assert "data at risk: the OSD on h1 /dev/disk/by-id/b leaves the description" in text

    shown = project.pulumi("preview", "--diff", "--non-interactive", "--stack", "review")
    pools = shown.stdout.split("~ pools: [", 1)[1]
    assert '- name       : "db"' in pools, shown.stdout  # the pool db goes...
    assert "scratch" not in shown.stdout  # ...and scratch is not shown renamed into its place
    assert "/dev/disk/by-id/b" in shown.stdout and "h2" not in shown.stdout
    assert "warning: data at risk: pool db leaves the description" in shown.stderr

"""Real ``pulumi preview`` runs: the offline plan equals the engine's, the Kubernetes
provider is found locally, and a stack needing a provider that cannot be built says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlsite.engine.run import missing_plugin_hint
from tests.engine.conftest import EXAMPLE_PASSPHRASES, EngineProject

LAB_SECRETS = {
    "MLSITE_LAB_REGISTRY_PUSH_PASSWORD": "push-test-password",
    "MLSITE_LAB_REGISTRY_PULL_PASSWORD": "pull-test-password",
    "MLSITE_LAB_GRAFANA_PASSWORD": "grafana-test-password",
    "TEAM_REGISTRY_PUSH_PASSWORD": "team-push-test-password",
    "TEAM_REGISTRY_PULL_PASSWORD": "team-pull-test-password",
}
ENGINE_OWN = ("pulumi:providers:",)
"""Resources the engine adds by itself (default providers): not in a plan."""

Row = tuple[str, str, str, bool]


def engine_rows(preview: dict[str, Any]) -> set[Row]:
    rows = set()
    for step in preview["steps"]:
        state = step.get("newState") or step.get("oldState")
        if state["type"].startswith(ENGINE_OWN):
            continue
        name = state["urn"].rsplit("::", 1)[1]
        parent = state.get("parent", "")
        rows.add((state["type"], name, parent, bool(state.get("protect", False))))
    return rows


def plan_rows(project: EngineProject, stack: str) -> set[Row]:
    out = project.mlsite("plan", "--stack", stack, "--json", "-")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    return {
        (r["type"], r["name"], r.get("parent") or "", bool(r.get("protect")))
        for r in doc["resources"]
    }


@pytest.mark.parametrize("stack", ["akiba", "shiva", "lab", "burst", "registry"])
def test_real_preview_declares_exactly_the_offline_plan(
    engine_project: EngineProject, stack: str
) -> None:
    project = engine_project
    if stack in EXAMPLE_PASSPHRASES:
        project.env["PULUMI_CONFIG_PASSPHRASE"] = EXAMPLE_PASSPHRASES[stack]
    project.env.update(LAB_SECRETS)
    project.stack(stack)
    preview = project.preview_json(stack)
    engine = engine_rows(preview)
    plan = plan_rows(project, stack)
    assert engine, "the engine previewed no resources"
    assert engine == plan, (
        f"only in the engine: {sorted(engine - plan)}\nonly in the plan: {sorted(plan - engine)}"
    )
    # every protected resource of the plan is protected by the engine as well
    assert {r for r in engine if r[3]} == {r for r in plan if r[3]}


def test_example_secrets_are_real_ciphertexts(engine_project: EngineProject) -> None:
    """Every ``secure:`` value of akiba decrypts under its published example passphrase,
    and a wrong passphrase is refused (so the values really are sealed)."""
    project = engine_project
    project.env["PULUMI_CONFIG_PASSPHRASE"] = EXAMPLE_PASSPHRASES["akiba"]
    project.stack("akiba")
    shown = project.pulumi(
        "config", "get", "--stack", "akiba", "--path", "mlsite:site.registry.users[0].password"
    )
    assert shown.stdout.strip() == "example-akiba-mlsite-site-registry-users-0-password"
    project.env["PULUMI_CONFIG_PASSPHRASE"] = "not the passphrase"
    wrong = project.pulumi(
        "config",
        "get",
        "--stack",
        "akiba",
        "--path",
        "mlsite:site.registry.users[0].password",
        check=False,
    )
    assert wrong.returncode != 0
    assert "incorrect passphrase" in (wrong.stderr + wrong.stdout).lower()


NAMESPACE_PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

KUBECONFIG = '''
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: nothing}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
'''
provider = k8s.Provider("cluster", kubeconfig=KUBECONFIG)
ns = k8s.core.v1.Namespace(
    "team", metadata={"name": "team-alice"}, opts=pulumi.ResourceOptions(provider=provider)
)
pulumi.export("namespace", ns.metadata["name"])
"""


def write_program(project: EngineProject, stack: str, program: str) -> None:
    (project.root / "stacks" / f"{stack}.py").write_text(program)
    (project.root / "stacks" / f"Pulumi.{stack}.yaml").write_text("config: {}\n")


def test_kubernetes_resource_previews_through_the_built_provider_offline(
    engine_project: EngineProject,
) -> None:
    """A Namespace previews with no network at all (a fresh network namespace with only
    loopback): the provider is the one built from Go modules, found beside the CLI."""
    project = engine_project
    write_program(project, "k8s", NAMESPACE_PROGRAM)
    project.stack("k8s")
    out = project.pulumi("preview", "--stack", "k8s", "--json", "--non-interactive", netns=True)
    doc = json.loads(out.stdout)
    types = {s["newState"]["type"] for s in doc["steps"]}
    assert "kubernetes:core/v1:Namespace" in types
    assert "pulumi:providers:kubernetes" in types
    provider = next(
        s for s in doc["steps"] if s["newState"]["type"] == "pulumi:providers:kubernetes"
    )
    assert provider["newState"]["inputs"]["version"] == "4.25.0"
    # no plugin was installed into the (empty) plugin home: it came from beside the CLI
    plugins = Path(project.env["PULUMI_HOME"]) / "plugins"
    assert not any(plugins.glob("resource-kubernetes*"))


AWS_PROGRAM = """
import pulumi
import pulumi_aws as aws

region = aws.Provider("tokyo", region="ap-northeast-1", skip_credentials_validation=True)
aws.s3.Bucket("spot-logs", opts=pulumi.ResourceOptions(provider=region))
"""


def test_aws_stack_fails_preview_naming_the_missing_plugin(engine_project: EngineProject) -> None:
    project = engine_project
    write_program(project, "aws", AWS_PROGRAM)
    project.stack("aws")
    out = project.pulumi("preview", "--stack", "aws", "--non-interactive", check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    # the engine's own error names the plugin; mlsite adds how a real site installs it
    assert "no resource plugin 'pulumi-resource-aws' found" in text, text
    hints = missing_plugin_hint(text)
    assert len(hints) == 1, hints
    assert "aws 7." in hints[0] and "pulumi plugin install resource aws 7." in hints[0]


def test_mlsite_preview_runs_the_engine_with_its_environment(
    engine_project: EngineProject,
) -> None:
    """``mlsite preview`` validates first, selects (creates) the stack with passphrase
    secrets, then streams Pulumi's own preview; no plugin is downloaded."""
    project = engine_project
    project.env["PULUMI_CONFIG_PASSPHRASE"] = EXAMPLE_PASSPHRASES["shiva"]
    out = project.mlsite("preview", "--stack", "shiva")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Previewing update (shiva)" in out.stdout
    assert "to create" in out.stdout
    assert "warning: using" not in out.stdout  # plugins found beside the CLI, quietly
    # a broken description stops before the engine, naming file, line and field
    stack_file = project.root / "stacks" / "Pulumi.shiva.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("retention_days: 30", "retention_days: -1")
    )
    bad = project.mlsite("preview", "--stack", "shiva")
    assert bad.returncode == 2
    assert "Pulumi.shiva.yaml" in bad.stderr and "retention_days" in bad.stderr
    assert "Previewing" not in bad.stdout

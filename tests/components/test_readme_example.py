"""The README's "Compose your own stack" example is exactly stacks/registry.py, and it works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlsite.plan.run import plan_stack

ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Compose your own stack", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section shows one program"
    return blocks[0]


def test_the_readme_shows_the_stack_program_word_for_word() -> None:
    assert readme_example() == (ROOT / "stacks" / "registry.py").read_text()


def test_the_example_builds_a_registry_its_hosts_trust(
    monkeypatch: pytest.MonkeyPatch, engine_ca: str
) -> None:
    monkeypatch.setenv("TEAM_REGISTRY_PUSH_PASSWORD", "readme-push-canary")
    monkeypatch.setenv("TEAM_REGISTRY_PULL_PASSWORD", "readme-pull-canary")
    doc = plan_stack("registry").doc()
    by_name = {r["name"]: r for r in doc["resources"]}
    assert "mlsite:site:Site" not in {r["type"] for r in doc["resources"]}
    roles = sorted(
        r["inputs"]["role"] for r in doc["resources"] if r["type"].endswith(":HostDeploy")
    )
    assert roles == ["base", "containerd", "registry"]
    containerd, registry = by_name["team-hosts-containerd"], by_name["team-registry-hosts"]
    assert [h["name"] for h in registry["inputs"]["hosts"]] == ["reg-1"]
    assert containerd["inputs"]["params"]["ca_pem"] == engine_ca
    assert registry["inputs"]["params"]["tls"]["ca_cert_pem"] == engine_ca
    assert by_name["team-hosts-base"]["urn"] in registry["depends_on"]

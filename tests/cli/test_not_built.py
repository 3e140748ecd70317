"""`mlsite validate` never presents a described part as built, and its list stays true."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from mlsite.cli import app
from mlsite.coverage import NOT_BUILT, not_built
from mlsite.spec import load_stack

ROOT = Path(__file__).resolve().parents[2]

# How code that built each entry would read it from the description (site.cluster, ...).
READS = {
    "cluster": r"site\.cluster\b",
    "workspaces": r"\.profiles\b|idle_timeout_min",
    "workspaces.users[].home_quota_gib": r"home_quota_gib",
    "monitoring": r"grafana_admin_password|\.receivers\b",
    "cloud.aws": r"cloud\.aws\b",
}


def test_validate_lists_what_akiba_describes_apart_from_what_is_built() -> None:
    result = CliRunner().invoke(app, ["validate", "--stack", "akiba"])
    assert result.exit_code == 0, result.output
    built, _, described = result.stdout.partition("described, not built yet")
    assert "built: hosts, ceph, nfs, personal-databases, registry, images" in built
    for word in ("kubernetes", "cluster", "workspaces", "monitoring", "aws"):
        assert word not in built.split("built:", 1)[1], word
    listed = re.findall(r"^  (\S+):", described, flags=re.M)
    assert listed[:2] == ["cluster", "workspaces"] and "cloud.aws" in listed


def test_a_site_that_describes_only_built_parts_lists_nothing_unbuilt() -> None:
    result = CliRunner().invoke(app, ["validate", "--stack", "registry"])
    assert result.exit_code == 0, result.output
    assert "not built" not in result.stdout
    assert not not_built(load_stack("registry").site)


def test_every_entry_is_still_unbuilt_nothing_in_components_or_hosts_reads_it() -> None:
    assert set(READS) == {n.path for n in NOT_BUILT}
    sources = [
        (path, path.read_text())
        for package in ("mlsite/components", "mlsite/hosts")
        for path in sorted((ROOT / package).rglob("*.py"))
    ]
    for path_in_description, pattern in READS.items():
        readers = [str(p.relative_to(ROOT)) for p, text in sources if re.search(pattern, text)]
        assert not readers, (
            f"{path_in_description} is read by {readers}: if it is built now, remove it from "
            "mlsite.coverage.NOT_BUILT"
        )

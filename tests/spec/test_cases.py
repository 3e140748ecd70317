"""Every invalid description under cases/ is rejected with its YAML path, line and reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlsite.spec import SiteError, load_file

CASES = Path(__file__).parent / "cases"
EXPECT = re.compile(r"^# expect: (?P<path>\S*) @(?P<line>\d+): (?P<text>.+)$")


def _expectations(path: Path) -> list[tuple[str, int, str]]:
    found = []
    for line in path.read_text().splitlines():
        m = EXPECT.match(line)
        if m:
            found.append((m["path"], int(m["line"]), m["text"]))
    return found


ERROR_CASES = sorted(CASES.glob("*.error.yaml"))


def test_there_are_enough_cases() -> None:
    assert len(ERROR_CASES) >= 30


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda p: p.name.removesuffix(".error.yaml"))
def test_rejects_case_with_path_line_and_reason(case: Path) -> None:
    expected = _expectations(case)
    assert expected, f"{case.name} declares no `# expect:` line"
    with pytest.raises(SiteError) as info:
        load_file(case)
    diagnostics = info.value.diagnostics
    rendered = "\n".join(map(str, diagnostics))
    for path, line, text in expected:
        matches = [
            d for d in diagnostics if d.path == path and d.line == line and text in d.message
        ]
        assert matches, f"expected {path} at line {line} with {text!r}; got:\n{rendered}"
        assert str(matches[0]).startswith(f"{matches[0].file}:{line} ")
        assert matches[0].file.endswith(case.name)


@pytest.mark.parametrize("case", sorted(CASES.glob("*.ok.yaml")), ids=lambda p: p.name)
def test_accepts_valid_case(case: Path) -> None:
    load_file(case)


def test_reports_every_problem_at_once(tmp_path: Path) -> None:
    base = (CASES / "base.ok.yaml").read_text()
    broken = (
        base.replace("address: 10.0.0.12", "address: 10.0.5.12")
        .replace("size: 3, min_size: 2}", "size: 3, min_size: 3}")
        .replace("quota: {gpus: 2}", "quota: {gpus: 9}")
    )
    path = tmp_path / "Pulumi.multi.yaml"
    path.write_text(broken)
    with pytest.raises(SiteError) as info:
        load_file(path)
    paths = {d.path for d in info.value.diagnostics}
    assert {
        "hosts[1].address",
        "storage.ceph.pools[0].min_size",
        "workspaces.users[0].quota.gpus",
    } <= paths


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    base = (CASES / "base.ok.yaml").read_text()
    path = tmp_path / "Pulumi.leak.yaml"
    path.write_text(base.replace("password: {env: REG}", "password: canary-s3cr3t-4711"))
    with pytest.raises(SiteError) as info:
        load_file(path)
    assert "canary-s3cr3t-4711" not in str(info.value)
    assert "registry.users[0].password" in str(info.value)


def test_structural_and_cross_field_problems_are_reported_in_one_run(tmp_path: Path) -> None:
    base = (CASES / "base.ok.yaml").read_text()
    # a wrong type in one section, a cross-field problem in another
    broken = base.replace("quota: {gpus: 2}", "quota: {gpus: two}").replace(
        "size: 3, min_size: 2}", "size: 3, min_size: 3}"
    )
    assert "gpus: two" in broken and "min_size: 3}" in broken
    path = tmp_path / "Pulumi.both.yaml"
    path.write_text(broken)
    with pytest.raises(SiteError) as info:
        load_file(path)
    paths = {d.path for d in info.value.diagnostics}
    assert "workspaces.users[0].quota.gpus" in paths  # structural
    assert "storage.ceph.pools[0].min_size" in paths  # cross-field, from the valid sections
    # rules needing the broken section are skipped, not run on half a description
    assert not any(
        "quota" in d.message and d.path != "workspaces.users[0].quota.gpus"
        for d in info.value.diagnostics
    )

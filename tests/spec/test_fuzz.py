"""Generated and mutated descriptions meet only validation errors, never another exception."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsite.spec import SiteError, SiteSpec, load_file, validate

ROOT = Path(__file__).resolve().parents[2]
BASES = [
    yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"]["mlsite:site"]
    for name in ("example", "akiba", "lab")
] + [
    yaml.safe_load((Path(__file__).parent / "cases" / "base.ok.yaml").read_text())["config"][
        "mlsite:site"
    ]
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "10.0.0.1",
            "10.0.0.0/8",
            "ceph-osd",
            "ha",
            "/dev/disk/by-id/x",
            "ssh-ed25519 AAAA x",
            "spot",
            "-1",
            "",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["replace", "delete", "duplicate", "add-key"]))
        key = path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif op == "add-key" and isinstance(parent[key], dict):
            parent[key][draw(st.text(min_size=1, max_size=8))] = draw(values)
    return data


def _only_validation_errors(data: Any) -> None:
    try:
        result = validate(data)
    except SiteError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.message
    else:
        assert isinstance(result, SiteSpec)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_descriptions_raise_only_site_errors(data: Any) -> None:
    _only_validation_errors(data)


@settings(max_examples=150, deadline=None)
@given(values)
def test_arbitrary_values_raise_only_site_errors(data: Any) -> None:
    _only_validation_errors(data)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutated(), st.integers(min_value=0, max_value=400))
def test_mutated_files_raise_only_site_errors_with_lines(
    tmp_path: Path, data: Any, cut: int
) -> None:
    text = yaml.safe_dump({"config": {"mlsite:site": data}}, sort_keys=False)
    text = text[: max(cut, len(text) - cut)]  # sometimes a truncated file
    path = tmp_path / "Pulumi.fuzz.yaml"
    path.write_text(text)
    try:
        load_file(path)
    except SiteError as exc:
        for d in exc.diagnostics:
            assert d.line >= 1
            assert d.file.endswith("Pulumi.fuzz.yaml")

"""The example stacks are valid, complete and match the published schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from mlsite.spec import SiteSpec, available_stacks, load_stack
from mlsite.spec.schema import stack_file_schema
from mlsite.spec.typewalk import _candidates

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stack", ["akiba", "shiva", "lab", "example"])
def test_example_stack_is_valid(stack: str) -> None:
    loaded = load_stack(stack, ROOT)
    assert loaded.site.site.name == stack


def test_every_stack_file_in_the_repo_is_valid() -> None:
    for stack in available_stacks(ROOT):
        load_stack(stack, ROOT)


def _field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.add(path)
        for tp in _candidates(field.annotation):
            inner = get_args(tp)[0] if get_origin(tp) in (tuple, list) else tp
            for cand in _candidates(inner):
                if (
                    isinstance(cand, type)
                    and issubclass(cand, BaseModel)
                    and cand.__name__ != "Secret"
                ):
                    paths |= _field_paths(cand, f"{path}.")
    return paths


def _present_paths(node: Any, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            paths.add(f"{prefix}{key}")
            paths |= _present_paths(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for item in node:
            paths |= _present_paths(item, prefix)
    return paths


def test_example_stack_shows_every_option() -> None:
    text = (ROOT / "stacks" / "Pulumi.example.yaml").read_text()
    data = yaml.safe_load(text)["config"]["mlsite:site"]
    present = _present_paths(data)
    # options shown commented out (alternatives of a union) count as present
    commented = {
        line.split("#", 1)[1].strip().split(":", 1)[0]
        for line in text.splitlines()
        if line.strip().startswith("# ") and ":" in line
    }
    missing = sorted(
        p
        for p in _field_paths(SiteSpec)
        if p not in present and p.rsplit(".", 1)[-1] not in commented
    )
    assert not missing, f"stacks/Pulumi.example.yaml lacks: {missing}"


def test_published_schema_is_current() -> None:
    published = json.loads((ROOT / "stacks" / "mlsite.schema.json").read_text())
    assert published == stack_file_schema(), "run `mlsite schema -o stacks/mlsite.schema.json`"


def test_example_stacks_point_editors_at_the_schema() -> None:
    for name in ("akiba", "shiva", "lab", "example"):
        first = (ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=mlsite.schema.json"


def test_every_field_has_a_docstring() -> None:
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"
            for tp in _candidates(field.annotation):
                inner = get_args(tp)[0] if get_origin(tp) in (tuple, list) else tp
                for cand in _candidates(inner):
                    if isinstance(cand, type) and issubclass(cand, BaseModel):
                        walk(cand)

    walk(SiteSpec)
    assert len(seen) > 30


def test_model_is_frozen() -> None:
    site = load_stack("lab", ROOT).site
    with pytest.raises(Exception, match="frozen"):
        site.hosts[0].name = "renamed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("upstream", "namespace"),
    [
        ("https://registry-1.docker.io", "docker.io"),
        ("https://index.docker.io", "docker.io"),
        ("https://nvcr.io", "nvcr.io"),
        ("https://quay.io/", "quay.io"),
        ("https://harbor.example.com:8443", "harbor.example.com:8443"),
    ],
)
def test_a_cache_is_named_as_image_references_name_its_upstream(
    upstream: str, namespace: str
) -> None:
    from mlsite.spec.services import PullThroughCache

    cache = PullThroughCache(name="c", upstream=upstream, port=5002)  # type: ignore[arg-type]
    assert cache.namespace == namespace

"""Custom stack programs (stacks/<stack>.py) and component conventions."""

from __future__ import annotations

import importlib
import inspect

import pulumi

from mlsite import components
from mlsite.plan.run import plan_stack

HOST_DEPLOY = "pulumi-python:dynamic/hosts:HostDeploy"


def test_burst_composes_only_the_listed_host_roles_without_a_site() -> None:
    doc = plan_stack("burst").doc()
    types = [r["type"] for r in doc["resources"]]
    assert "mlsite:site:Site" not in types
    roles = sorted(r["inputs"]["role"] for r in doc["resources"] if r["type"] == HOST_DEPLOY)
    assert roles == sorted(["base", "network", "gpu", "containerd", "monitoring_agent"])
    gpu = next(r for r in doc["resources"] if r["name"] == "burst-gpu")
    assert [h["name"] for h in gpu["inputs"]["hosts"]] == ["rent-1", "rent-2"]


def test_every_exported_component_has_a_docstring_and_a_token_matching_its_module() -> None:
    tokens = {}
    for name in components.COMPONENTS:
        cls = getattr(components, name)
        assert inspect.getdoc(cls), name
        assert issubclass(cls, pulumi.Resource)
        if issubclass(cls, pulumi.ComponentResource):
            source = inspect.getsource(cls)
            token = source.split('super().__init__("', 1)[1].split('"', 1)[0]
            package, module, type_name = token.split(":")
            assert package == "mlsite" and type_name == cls.__name__
            assert module in cls.__module__.split(".")
        else:
            token = f"pulumi-python:{cls._resource_type_name}"
            assert token.endswith(f":{cls.__name__}")
        assert token not in tokens, token
        tokens[token] = name
    for name in components.__all__:
        assert getattr(components, name) is not None
    importlib.import_module("mlsite.components.site")

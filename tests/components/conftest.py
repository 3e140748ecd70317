"""Fixtures of the component tests."""

from __future__ import annotations

from typing import Any

import pytest

from mlsite.plan.mocks import PlanMocks

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB-test-site-ca\n-----END CERTIFICATE-----\n"
"""The certificate the mock engine gives a generated site CA (``engine_ca``)."""


@pytest.fixture
def engine_ca(monkeypatch: pytest.MonkeyPatch) -> str:
    """Mocks answer a generated site CA as the engine would (mocks know no generated
    values otherwise); returns its certificate."""
    plain = PlanMocks.new_resource

    def answer(self: PlanMocks, args: Any) -> tuple[str | None, dict[Any, Any]]:
        rid, outputs = plain(self, args)
        if args.typ == "pulumi-python:dynamic/registry:SiteCa":
            outputs.update(cert_pem=CA_PEM, key_pem="test-ca-key")
        return rid, outputs

    monkeypatch.setattr(PlanMocks, "new_resource", answer)
    return CA_PEM

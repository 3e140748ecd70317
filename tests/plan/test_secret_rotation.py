"""A rotated secret shows as `[secret] changed` when both plans share one key, and never
shows its value."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mlsite.plan.diff import EXIT_OK, diff_plans, render_markdown
from mlsite.plan.run import plan_site_data
from mlsite.plan.tree import SECRET_KEY_ENV, new_secret_key
from tests.plan.test_data_loss import site_data

ROTATED = "rotated-password-value-7f3a"


def _use_key(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    if key:
        monkeypatch.setenv(SECRET_KEY_ENV, key)
    else:
        monkeypatch.delenv(SECRET_KEY_ENV, raising=False)


def _plans(monkeypatch: pytest.MonkeyPatch, key_a: str, key_b: str) -> tuple[Any, Any]:
    """akiba planned under ``key_a``, then with the registry user's password rotated under
    ``key_b`` ("" = no key)."""
    data = json.loads(site_data("akiba"))
    rotated = copy.deepcopy(data)
    rotated["registry"]["users"][0]["password"] = ROTATED
    _use_key(monkeypatch, key_a)
    base = json.loads(json.dumps(plan_site_data(data, "akiba").doc()))
    _use_key(monkeypatch, key_b)
    head = json.loads(json.dumps(plan_site_data(rotated, "akiba").doc()))
    return base, head


def test_a_rotated_secret_shows_as_changed_under_one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_secret_key()
    base, head = _plans(monkeypatch, key, key)
    d = diff_plans(base, head)
    md = render_markdown(d)
    assert d.exit_code == EXIT_OK, md
    assert "**akiba-registry-hosts**" in md
    assert "`secrets`: `[secret]` changed" in md
    assert ROTATED not in md and ROTATED not in json.dumps(head)
    assert key not in json.dumps(head)


def test_an_unchanged_secret_under_one_key_shows_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_secret_key()
    data = json.loads(site_data("akiba"))
    monkeypatch.setenv(SECRET_KEY_ENV, key)
    a = plan_site_data(copy.deepcopy(data), "akiba").doc()
    b = plan_site_data(copy.deepcopy(data), "akiba").doc()
    assert diff_plans(a, b).changes == ()


@pytest.mark.parametrize("keys", ["none", "different", "base without a key", "head without a key"])
def test_secrets_of_plans_made_apart_are_not_compared(
    monkeypatch: pytest.MonkeyPatch, keys: str
) -> None:
    key_a, key_b = {
        "none": ("", ""),
        "different": (new_secret_key(), new_secret_key()),
        # an mlsite without keyed digests planned the base: `[secret]` against a mark
        "base without a key": ("", new_secret_key()),
        "head without a key": (new_secret_key(), ""),
    }[keys]
    base, head = _plans(monkeypatch, key_a, key_b)
    d = diff_plans(base, head)
    assert d.changes == (), render_markdown(d)

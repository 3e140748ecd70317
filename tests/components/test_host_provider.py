"""HostDeployProvider without an engine: pure diff and check, pickles, secrets."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import dill
import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider

from mlsite.components.hosts.provider import HostDeployProvider, check_inputs, resolve_secrets

INPUTS: dict[str, Any] = {
    "role": "registry",
    "group": "registry",
    "hosts": [{"name": "lab-3", "address": "10.77.0.13", "port": 22, "user": "root"}],
    "params": {"pw": {"$secret": "value:pw"}, "env": {"$secret": "env:X"}},
    "secrets": {"pw": "hunter2-canary"},
    "files": {},
    "code": "sha256:0",
}


def test_diff_of_identical_state_is_no_change_and_touches_nothing() -> None:
    p = HostDeployProvider()
    d = p.diff("id", {**INPUTS, "changed": 3, "drift": {"lab-3": []}}, dict(INPUTS))
    assert d.changes is False and d.replaces == []


def test_diff_sees_param_changes_as_update_and_role_changes_as_replace() -> None:
    p = HostDeployProvider()
    assert p.diff("id", INPUTS, {**INPUTS, "params": {}}).changes is True
    d = p.diff("id", INPUTS, {**INPUTS, "role": "nfs"})
    assert d.changes is True and d.replaces == ["role"]


def _ceph(pools: list[str], devices: list[str], **extra: Any) -> dict[str, Any]:
    params = {
        "pools": [{"name": n, "size": 3} for n in pools],
        "osds": [{"host": "h1", "device": d, "uuid": d[-1]} for d in devices],
        **extra,
    }
    return {**INPUTS, "role": "ceph", "params": params}


def test_diff_names_the_items_that_change_by_identity() -> None:
    old = _ceph(["rbd", "db", "scratch"], ["/dev/a", "/dev/b", "/dev/c"])
    new = _ceph(["rbd", "scratch", "logs"], ["/dev/a", "/dev/c"], fsid="f")
    d = HostDeployProvider().diff("id", old, new)
    assert d.detailed == {  # type: ignore[attr-defined]
        "params.pools[1]": "delete",  # db, at its place in the old list
        "params.pools[2]": "add",  # logs, at its place in the new list
        "params.osds[1]": "delete",  # /dev/b; /dev/c moved up, unchanged: not named
        "params.fsid": "add",
    }
    assert any("pool db leaves" in loss for loss in d.losses)  # type: ignore[attr-defined]
    assert any("h1 /dev/b leaves" in loss for loss in d.losses)  # type: ignore[attr-defined]


def test_diff_names_secrets_without_walking_them_and_replaces_with_role() -> None:
    d = HostDeployProvider().diff("id", INPUTS, {**INPUTS, "secrets": {"pw": "new-canary"}})
    assert d.detailed == {"secrets": "update"}  # type: ignore[attr-defined]
    d = HostDeployProvider().diff("id", INPUTS, {**INPUTS, "role": "nfs"})
    assert d.detailed == {"role": "update-replace"}  # type: ignore[attr-defined]
    assert d.losses == []  # type: ignore[attr-defined]  # another deploy: judged by its delete


def test_harmless_edits_put_no_data_at_risk() -> None:
    old = _ceph(["rbd"], ["/dev/a"])
    d = HostDeployProvider().diff("id", old, _ceph(["rbd", "db"], ["/dev/a", "/dev/b"]))
    assert d.changes is True and d.losses == []  # type: ignore[attr-defined]


def test_recorded_drift_makes_the_next_up_apply() -> None:
    d = HostDeployProvider().diff(
        "id", {**INPUTS, "drift": {"lab-3": ["Install packages"]}}, INPUTS
    )
    assert d.changes is True
    assert d.detailed == {"drift": "update"}  # type: ignore[attr-defined]


def test_check_names_each_bad_field() -> None:
    failures = check_inputs({"role": "", "hosts": [{"name": "x"}], "params": []})
    assert {f.property for f in failures} == {"role", "hosts[0]", "params"}


def test_secret_references_resolve_only_at_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", "from-env")
    resolved = resolve_secrets(INPUTS["params"], INPUTS["secrets"])
    assert resolved == {"pw": "hunter2-canary", "env": "from-env"}
    monkeypatch.delenv("X")
    with pytest.raises(LookupError, match="X"):
        resolve_secrets(INPUTS["params"], INPUTS["secrets"])


def test_pickled_provider_holds_no_credentials_even_after_configure() -> None:
    p = HostDeployProvider()
    p.configure(
        ConfigureRequest(
            Config(
                {"mlsite:sshPrivateKey": "-----BEGIN CANARY KEY-----", "mlsite:sshKeyFile": "/k"},
                "mlsite",
            )
        )
    )
    assert p._private_key
    blob = base64.b64decode(serialize_provider(p))
    assert b"CANARY" not in blob and b"/k" not in blob
    assert b"mlsite.components.hosts.provider" in blob  # by reference: small and code-free
    assert len(blob) < 600
    again = dill.loads(blob)
    assert again._private_key is None and again.timeout_s == p.timeout_s


def test_provider_module_imports_neither_the_site_model_nor_components() -> None:
    code = (
        "import sys, mlsite.components.hosts.provider;"
        "bad=[m for m in ('pydantic','mlsite.spec','mlsite.components.site','pulumi_aws','pulumi_kubernetes','pyinfra') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_inputs_a_preview_cannot_know_yet_are_checked_at_up() -> None:
    """A preview passes values computed by other resources (the site CA in containerd's
    params) as the unknown sentinel or as output values; they are not "malformed"."""
    import pulumi

    from mlsite.components.hosts.provider import UNKNOWN

    pending = pulumi.Output.from_input("later")
    host = {"name": "a", "address": "10.0.0.1"}
    for params in (UNKNOWN, pending):
        assert check_inputs({"role": "containerd", "hosts": [host], "params": params}) == []
    assert check_inputs({"role": "base", "hosts": UNKNOWN, "params": {}}) == []
    assert check_inputs({"role": "base", "hosts": [pending], "params": {}}) == []
    # known values are still checked, and a missing value is not an unknown one
    missing = check_inputs({"role": "base", "hosts": None, "params": "text"})
    assert sorted(f.property for f in missing) == ["hosts", "params"]

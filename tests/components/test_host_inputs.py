"""Pure planners of HostDeploy inputs: groups, rendered params, hashes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mlsite.components.hosts.inputs import code_hash, file_hashes, plan_groups, render_params
from mlsite.plan.synthetic import generated_site
from mlsite.spec import Secret, validate


def _hosts(n: int):  # type: ignore[no-untyped-def]
    return validate(generated_site(max(n, 3)), plaintext_secrets=True).hosts[:n]


ALL = _hosts(300)


@given(n=st.integers(0, 300), max_hosts=st.integers(1, 100))
def test_groups_cover_every_host_once_in_order_and_respect_the_limit(
    n: int, max_hosts: int
) -> None:
    hosts = ALL[:n]
    groups = plan_groups("k8s-worker", hosts, max_hosts)
    assert [h for g in groups for h in g.hosts] == list(hosts)
    assert all(1 <= len(g.hosts) <= max_hosts for g in groups)
    if groups:
        assert all(len(g.hosts) == max_hosts for g in groups[:-1])  # filled in order
        assert len(groups) == -(-n // max_hosts)
        names = [g.name for g in groups]
        assert names == ["k8s-worker"] + [f"k8s-worker-{i}" for i in range(2, len(groups) + 1)]


def test_500_hosts_make_8_groups() -> None:
    assert len(plan_groups("base", _hosts(500))) == 8


def test_env_secrets_become_references_and_decrypted_ones_move_to_secrets() -> None:
    decrypted = Secret.model_validate("canary-0xC0FFEE", context={"plaintext_secrets": True})
    env = Secret(env="SOME_PASSWORD")
    out = render_params({"a": {"pw": decrypted}, "b": [env]})
    assert out.params == {
        "a": {"pw": {"$secret": "value:a.pw"}},
        "b": [{"$secret": "env:SOME_PASSWORD"}],
    }
    assert out.secrets == {"a.pw": "canary-0xC0FFEE"}
    assert "canary" not in repr(out.params)


def test_code_and_file_hashes_are_stable() -> None:
    assert code_hash("base") == code_hash("base")
    assert code_hash("base").startswith("sha256:")
    assert isinstance(file_hashes("registry"), dict)

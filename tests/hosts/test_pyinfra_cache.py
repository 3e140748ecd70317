"""mlsite.hosts.pyinfra_cache: the kept answers equal what pyinfra computes itself."""

from __future__ import annotations

import importlib
import types
from typing import Any

import pyinfra.api.arguments as arguments
import pyinfra.api.facts as facts
import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import ArgumentTypeError
from pyinfra.api.host import HostData

from mlsite.hosts import pyinfra_cache

pyinfra_cache.install()

# the modules themselves: pyinfra.api re-exports its decorators under these names
deploy = importlib.import_module("pyinfra.api.deploy")
operation = importlib.import_module("pyinfra.api.operation")


def _host(data: dict[str, Any]) -> tuple[State, Any]:
    inventory = Inventory(([("h1", data)], {"group": ([], {"_env": {"GROUP": "1"}})}))
    state = State(inventory, Config(SUDO_USER="deployer"))
    return state, inventory.get_host("h1")


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys pyinfra's per-key host-data walk (``getattr(host.data, key)``) looks up."""
    seen: list[str] = []
    walk = HostData.__getattr__

    def counted(self: HostData, key: str) -> Any:
        seen.append(key)
        return walk(self, key)

    monkeypatch.setattr(HostData, "__getattr__", counted)
    return seen


def _both(state: State, host: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    original = arguments.pop_global_arguments.pyinfra_original  # type: ignore[attr-defined]
    theirs_kwargs, ours_kwargs = dict(kwargs), dict(kwargs)
    theirs = original(state, host, theirs_kwargs)
    ours = arguments.pop_global_arguments(state, host, ours_kwargs)
    assert theirs_kwargs == ours_kwargs  # the same keys popped
    return theirs, ours


def test_every_module_uses_the_kept_lookup() -> None:
    kept = arguments.pop_global_arguments
    assert getattr(kept, "mlsite_kept", False)
    assert facts.pop_global_arguments is kept  # type: ignore[attr-defined]
    assert operation.pop_global_arguments is kept
    assert deploy.pop_global_arguments is kept
    assert isinstance(operation, types.ModuleType) and isinstance(deploy, types.ModuleType)


def test_operations_and_deploys_use_the_kept_lookup(walks: list[str]) -> None:
    """A real operation called inside a real deploy never walks the host data per key:
    both decorators reach the kept lookup, not pyinfra's own."""
    from pyinfra.api.deploy import deploy as deploy_decorator
    from pyinfra.api.state import StateStage
    from pyinfra.context import ctx_host, ctx_state
    from pyinfra.operations import server

    state, host = _host({"_sudo": True})
    state.set_stage(StateStage.Prepare)

    @deploy_decorator("probe")
    def probe() -> None:
        server.shell(name="probe", commands=["true"])

    with ctx_state.use(state), ctx_host.use(host):
        state.activate_host(host)
        probe()
    assert len(host.op_hash_order) == 1
    assert [k for k in walks if k.startswith("_")] == []


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"_sudo": False, "name": "x"}, {"_timeout": 5, "_env": {"B": "2"}}, {"_retries": 2}],
)
def test_global_arguments_equal_pyinfras_own(kwargs: dict[str, Any]) -> None:
    state, host = _host({"_sudo": True, "_env": {"A": "1"}, "ssh_user": "ops"})
    for _ in range(2):
        theirs, ours = _both(state, host, kwargs)
        assert theirs == ours
        assert ours[0]["_sudo"] is (kwargs.get("_sudo", True))
        assert ours[0]["_sudo_user"] == "deployer"  # from the config


def test_host_data_is_read_without_pyinfras_per_key_walk(walks: list[str]) -> None:
    """The saving itself: no ``getattr(host.data, key)`` (which calls every layer's
    function again for each of the ~35 keys) while the arguments are computed."""
    state, host = _host({"_sudo": True, "_env": {"A": "1"}})
    walks.clear()  # making the inventory reads connection data
    ours = arguments.pop_global_arguments(state, host, {})[0]
    assert walks == []
    assert ours["_sudo"] is True and ours["_env"] == {"A": "1"}
    original = arguments.pop_global_arguments.pyinfra_original  # type: ignore[attr-defined]
    assert original(state, host, {})[0] == ours
    assert len(walks) >= 30  # pyinfra's own walk, for contrast


def test_deploy_data_defaults_are_seen() -> None:
    """Deploy data (a layer computed per call, after the host's own) gives defaults."""
    state, host = _host({"_sudo_user": "ops"})
    host.current_deploy_data = {"_sudo": True, "_sudo_user": "from-deploy"}
    theirs, ours = _both(state, host, {})
    assert theirs == ours
    assert ours[0]["_sudo"] is True and ours[0]["_sudo_user"] == "ops"
    host.current_deploy_data = None
    assert _both(state, host, {})[1][0]["_sudo"] is False


def test_data_set_during_the_run_is_seen() -> None:
    state, host = _host({"_sudo": True})
    assert _both(state, host, {})[1][0]["_sudo"] is True
    host.data._sudo = False
    theirs, ours = _both(state, host, {})
    assert theirs == ours and ours[0]["_sudo"] is False


def test_mutable_host_data_is_copied_for_each_caller() -> None:
    state, host = _host({"_env": {"A": "1"}})
    first = arguments.pop_global_arguments(state, host, {})[0]["_env"]
    first["A"] = "changed by a caller"
    again = arguments.pop_global_arguments(state, host, {})[0]["_env"]
    assert again == {"A": "1"}


def test_bad_types_are_still_refused() -> None:
    state, host = _host({})
    with pytest.raises(ArgumentTypeError):
        arguments.pop_global_arguments(state, host, {"_timeout": "soon"})

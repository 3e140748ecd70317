"""Batched fact reads: the framing script run by a real shell, and round discovery."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr
from pyinfra.api.state import StateStage
from pyinfra.connectors.util import CommandOutput, OutputLine

from mlsite.hosts import prefetch
from mlsite.hosts.deploys import base
from mlsite.hosts.deploys.base import apply as base_apply
from mlsite.hosts.params import DeployParams, SecretText
from mlsite.spec import SiteSpec

COMMANDS = [
    "printf 'a\\nb\\n'",
    "printf 'no newline at the end'",
    "true",
    "printf 'x\\n\\n\\ny\\n\\n'",
    "echo out; echo 'it broke' >&2; exit 3",
    "echo '  spaced  '; echo 'E-looking line'",
    "cat",  # stdin is /dev/null: must not read the script
    "printf 'no newline on stderr' >&2; exit 1",
    "echo; printf 'blank line last\\n\\n' >&2; false",
]


def _lines(text: str) -> list[str]:
    # how pyinfra's connector splits a stream: one line per newline, the newline removed
    return [line.rstrip("\n") for line in text.splitlines(keepends=True)]


def _direct(command: str) -> tuple[bool, CommandOutput]:
    proc = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    lines = [OutputLine("stdout", line) for line in _lines(proc.stdout)]
    if proc.returncode != 0:
        lines += [OutputLine("stderr", line) for line in _lines(proc.stderr)]
    return proc.returncode == 0, CommandOutput(lines)


def test_batched_output_equals_running_each_command_alone() -> None:
    token = "@@mlsite-fact-test"
    script = prefetch.batch_script(COMMANDS, token)
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    parsed = prefetch.parse_batch(_lines(proc.stdout), token, COMMANDS, _lines(proc.stderr))
    assert sorted(parsed) == list(range(len(COMMANDS)))
    for i, command in enumerate(COMMANDS):
        assert parsed[i] == _direct(command), command
    assert parsed[4][0] is False and parsed[4][1].stderr_lines == ["it broke"]


def test_a_cut_off_batch_keeps_only_complete_frames() -> None:
    token = "@@t"
    lines = ["@@t 0", "one", "", "@@t 0 0", "@@t 1", "partial"]
    parsed = prefetch.parse_batch(lines, token, ["one", "two"])
    assert list(parsed) == [0] and parsed[0][1].stdout_lines == ["one"]


def _combined_equals_alone(commands: list[str], run: Any = None) -> dict[int, Any]:
    """Run ``commands`` as a batch (combinable ones together) and each alone; both answers
    must be equal for every command the batch answered. Returns the batch's answers."""
    token = "@@mlsite-fact-test"
    script = prefetch.batch_script(commands, token)
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    parsed = prefetch.parse_batch(_lines(proc.stdout), token, commands, _lines(proc.stderr))
    for i, command in enumerate(commands):
        assert parsed.get(i) == _direct(command), command
    return parsed


def test_text_files_read_together_equal_each_read_alone(tmp_path: Path) -> None:
    """Five kinds of path, one stat and one sha1sum for all, the same lines as alone."""
    from mlsite.hosts.facts import TextFile

    (tmp_path / "plain").write_text("a\n")
    (tmp_path / "private").write_text("secret-looking\n")
    (tmp_path / "private").chmod(0o600)
    os.chown(tmp_path / "private", 65534, 65534)
    (tmp_path / "with space").write_text("")
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "link").symlink_to(tmp_path / "plain")
    names = ["plain", "private", "with space", "a-dir", "dangling", "link", "missing"]
    paths = [str(tmp_path / n) for n in names] + [str(tmp_path / "no-dir" / "f")]
    commands = ["echo first", *(TextFile().command(p) for p in paths)]
    units = prefetch._units(commands)
    assert units[0] == 0 and isinstance(units[1], prefetch._Together)
    assert units[1].members == tuple(range(1, len(commands)))
    script = prefetch.batch_script(commands, "@@t")
    assert script.count("sha1sum") == 1 and script.count("stat -L") == 1
    parsed = _combined_equals_alone(commands)
    assert len(parsed) == len(commands)
    assert TextFile().process(parsed[2][1].stdout_lines).owner == "nobody:nogroup"


def test_accounts_read_together_equal_each_read_alone() -> None:
    """Real accounts of this machine (a home with and without .ssh, a missing home, no
    such user): one getent, id, stat and sha1sum for all, the same lines as alone."""
    from mlsite.hosts.facts import Account

    users = ["root", "nobody", "daemon", "mlsite-no-such-user"]
    commands = [Account().command(u) for u in users]
    assert isinstance(prefetch._units(commands)[0], prefetch._Together)
    parsed = _combined_equals_alone(commands)
    assert len(parsed) == len(users)
    assert Account().process(parsed[3][1].stdout_lines).uid is None
    assert Account().process(parsed[0][1].stdout_lines).uid == 0


def test_commands_that_only_look_combinable_run_alone() -> None:
    """A command is combined only when it is exactly the fact's command for its argument."""
    from mlsite.hosts.facts import Account, TextFile

    edited = TextFile().command("/etc/hosts").replace("sha1sum", "md5sum")
    odd_user = Account().command("Bad User")  # not a name useradd accepts
    commands = [edited, TextFile().command("/etc/hostname"), odd_user, "p=/x; d=oops"]
    assert all(isinstance(u, int) for u in prefetch._units(commands))


def test_a_combined_frame_that_fails_leaves_its_commands_to_run_alone() -> None:
    from mlsite.hosts.facts import TextFile

    commands = [TextFile().command("/etc/hosts"), TextFile().command("/etc/hostname")]
    lines = ["@@t g0", "0 parent", "", "@@t g0 1"]
    assert prefetch.parse_batch(lines, "@@t", commands) == {}
    half = ["@@t g0", "0 parent", "1 parent", "stat root:root:644 /etc/hosts", "", "@@t g0 0"]
    # /etc/hosts was stat'ed but has no digest: unknown; /etc/hostname: not a regular file
    parsed = prefetch.parse_batch(half, "@@t", commands)
    assert list(parsed) == [1] and parsed[1][1].stdout_lines == ["parent"]


@pytest.fixture
def deploy_params(lab_site: SiteSpec) -> base.Params:
    return base.params_for(lab_site, lab_site.hosts)


def test_discovery_learns_the_distribution_first_then_the_rest(
    deploy_params: base.Params,
) -> None:
    first = prefetch.discover("lab-1", {}, base_apply.base, deploy_params, {})
    assert len(first) == 1 and "-release" in first[0]  # unknown distribution: the deploy stops
    debian = '/etc/os-release\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n---'
    known = {first[0]: (True, CommandOutput([OutputLine("stdout", x) for x in debian.split("\n")]))}
    second = prefetch.discover("lab-1", {}, base_apply.base, deploy_params, known)
    text = "\n".join(second)
    assert first[0] not in second and len(second) >= 15
    for path in (base.SSHD_DROPIN, base.SUDOERS, base.SYSCTL_FILE, "/etc/chrony/chrony.conf"):
        assert path in text
    assert "getent passwd" in text and "dpkg-query" in text


def test_deploys_reading_other_hosts_or_keeping_state_are_never_batched() -> None:
    """A scratch evaluation of the ceph deploy would read the bootstrap monitor's keyring as
    empty and cache freshly made cluster keys; such roles read their facts one by one."""
    from mlsite.hosts.deploys import get as get_deploy

    assert not get_deploy("ceph").batch_facts and not get_deploy("nfs_ha").batch_facts
    assert get_deploy("base").batch_facts


def test_connector_lookup_is_read_once_and_still_finds_every_connector() -> None:
    """Discovery makes a scratch inventory per host per round; pyinfra's connector lookup
    (every distribution's entry points) is kept after its first read."""
    import pyinfra.api.connectors as connectors
    from pyinfra.api import Inventory

    lookup = connectors.get_all_connectors
    before = lookup.cache_info().hits  # type: ignore[attr-defined]
    inventory = Inventory(([("h", {}), ("@local", {})], {}))
    assert lookup.cache_info().hits > before  # type: ignore[attr-defined]
    assert {"ssh", "local", "docker"} <= set(lookup())
    assert inventory.get_host("@local").connector_cls.__name__ == "LocalConnector"
    assert inventory.get_host("h").connector_cls.__name__ == "SSHConnector"


def test_global_argument_types_are_kept_and_equal_pyinfras_own() -> None:
    from typing import get_type_hints

    import pyinfra.api.arguments as arguments
    import pyinfra.api.facts as facts

    first = arguments.all_global_arguments()
    assert first == list(get_type_hints(arguments.AllArguments).items())
    assert facts.all_global_arguments is arguments.all_global_arguments  # type: ignore[attr-defined]
    first.clear()  # a caller's list is its own
    assert {"_sudo", "_timeout", "_stdin"} <= {k for k, _ in arguments.all_global_arguments()}


class _Secretive(DeployParams):
    token: SecretText
    path: str = "/etc/x"


def _stand_in(name: str = "lab-1") -> Any:
    """What prefetch reads of a pyinfra host: its name, data and command runner (this
    machine's shell)."""
    ran: list[str] = []

    def run_shell_command(command: Any, *_: Any, **__: Any) -> Any:
        ran.append(prefetch._raw(command) or "")
        return _direct(ran[-1])

    data = SimpleNamespace(dict=lambda: {"ssh_hostname": "10.77.0.11"})
    return SimpleNamespace(name=name, data=data, run_shell_command=run_shell_command, ran=ran)


def test_fact_plans_are_kept_per_host_deploy_and_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deploy_params: base.Params
) -> None:
    monkeypatch.setenv(prefetch.PLANS_ENV, str(tmp_path / "plans"))
    data = {"ssh_hostname": "10.77.0.11"}
    path = prefetch.plan_path("lab-1", data, base_apply.base, deploy_params)
    assert path is not None and path == prefetch.plan_path(
        "lab-1", data, base_apply.base, deploy_params
    )
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    other_params = deploy_params.model_copy(update={"timezone": "UTC"})
    assert deploy_params.timezone != "UTC"
    assert path != prefetch.plan_path("lab-2", data, base_apply.base, deploy_params)
    assert path != prefetch.plan_path(
        "lab-1", {"ssh_hostname": "10.77.0.12"}, base_apply.base, deploy_params
    )
    assert path != prefetch.plan_path("lab-1", data, base_apply.base, other_params)


def test_a_remembered_plan_is_private_and_leaves_out_commands_with_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prefetch.PLANS_ENV, str(tmp_path))
    params = _Secretive(token=SecretStr("s3cret-value"))
    path = prefetch.plan_path("lab-1", {}, base_apply.base, params)
    served = prefetch.Prefetched(cache={}, plan=path)
    served.asked += ["uname -s", "grep -c s3cret-value /etc/x", "cat /etc/group"]
    served.remember(params)
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret" not in path.read_text()
    assert prefetch._load_plan(path) == ["uname -s", "cat /etc/group"]
    before = path.stat().st_mtime_ns
    unchanged = prefetch.Prefetched(cache={}, plan=path, remembered=["uname -s", "cat /etc/group"])
    unchanged.asked += ["uname -s", "cat /etc/group"]
    unchanged.remember(params)
    assert path.stat().st_mtime_ns == before
    path.write_text("{not json")
    assert prefetch._load_plan(path) is None


def test_plans_are_off_when_asked_or_when_the_directory_is_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prefetch.PLANS_ENV, "off")
    assert prefetch.plans_dir() is None
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv(prefetch.PLANS_ENV, str(shared))
    assert prefetch.plans_dir() is None
    monkeypatch.setenv(prefetch.PLANS_ENV, str(tmp_path / "own"))
    assert prefetch.plans_dir() == tmp_path / "own"


def test_with_a_plan_the_facts_are_read_in_one_batch_without_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deploy_params: base.Params
) -> None:
    monkeypatch.setenv(prefetch.PLANS_ENV, str(tmp_path))
    host = _stand_in()
    path = prefetch.plan_path(host.name, host.data.dict(), base_apply.base, deploy_params)
    assert path is not None
    path.write_text(json.dumps({"format": prefetch.PLAN_FORMAT, "commands": ["uname -s", "true"]}))

    def no_discovery(*_: Any) -> list[str]:
        raise AssertionError("discovery ran although a plan was remembered")

    monkeypatch.setattr(prefetch, "discover", no_discovery)
    state = SimpleNamespace(current_stage=StateStage.Prepare)
    served = prefetch.prefetch(host, state, base_apply.base, deploy_params)  # type: ignore[arg-type]
    assert len(host.ran) == 1 and "uname -s" in host.ran[0] and "true" in host.ran[0]
    assert served.remembered == ["uname -s", "true"]
    host.run_shell_command("uname -s")  # served from the batch: nothing more is sent
    host.run_shell_command("uname -r")  # not in the plan: runs live, and joins it
    assert len(host.ran) == 2 and host.ran[1] == "uname -r"
    served.remember(deploy_params)
    assert prefetch._load_plan(path) == ["uname -s", "uname -r"]


def test_a_plan_file_that_is_not_a_plan_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    for text in ("[1, 2]", '"commands"', json.dumps({"format": 1, "commands": "uname"})):
        path.write_text(text)
        assert prefetch._load_plan(path) is None, text
    assert prefetch._load_plan(None) is None

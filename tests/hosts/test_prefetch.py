"""Batched fact reads: the framing script run by a real shell, and round discovery."""

from __future__ import annotations

import subprocess

import pytest
from pyinfra.connectors.util import CommandOutput, OutputLine

from hosts import prefetch
from hosts.deploys import base
from mlsite.spec import SiteSpec

COMMANDS = [
    "printf 'a\\nb\\n'",
    "printf 'no newline at the end'",
    "true",
    "printf 'x\\n\\n\\ny\\n\\n'",
    "echo out; echo 'it broke' >&2; exit 3",
    "echo '  spaced  '; echo 'E-looking line'",
    "cat",  # stdin is /dev/null: must not read the script
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
    parsed = prefetch.parse_batch(_lines(proc.stdout), token, len(COMMANDS))
    assert sorted(parsed) == list(range(len(COMMANDS)))
    for i, command in enumerate(COMMANDS):
        assert parsed[i] == _direct(command), command
    assert parsed[4][0] is False and parsed[4][1].stderr_lines == ["it broke"]


def test_a_cut_off_batch_keeps_only_complete_frames() -> None:
    token = "@@t"
    lines = ["@@t 0", "one", "", "@@t 0 0", "@@t 1", "partial"]
    parsed = prefetch.parse_batch(lines, token, 2)
    assert list(parsed) == [0] and parsed[0][1].stdout_lines == ["one"]


@pytest.fixture
def deploy_params(lab_site: SiteSpec) -> base.Params:
    return base.params_for(lab_site, lab_site.hosts)


def test_discovery_learns_the_distribution_first_then_the_rest(
    deploy_params: base.Params,
) -> None:
    first = prefetch.discover("lab-1", {}, base.base, deploy_params, {})
    assert len(first) == 1 and "-release" in first[0]  # unknown distribution: the deploy stops
    debian = '/etc/os-release\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n---'
    known = {first[0]: (True, CommandOutput([OutputLine("stdout", x) for x in debian.split("\n")]))}
    second = prefetch.discover("lab-1", {}, base.base, deploy_params, known)
    text = "\n".join(second)
    assert first[0] not in second and len(second) >= 15
    for path in (base.SSHD_DROPIN, base.SUDOERS, base.SYSCTL_FILE, "/etc/chrony/chrony.conf"):
        assert path in text
    assert "getent passwd" in text and "dpkg -l" in text


def test_deploys_reading_other_hosts_or_keeping_state_are_never_batched() -> None:
    """A scratch evaluation of the ceph deploy would read the bootstrap monitor's keyring as
    empty and cache freshly made cluster keys; such roles read their facts one by one."""
    from hosts.roles import get_role

    assert not get_role("ceph").batch_facts and not get_role("nfs_ha").batch_facts
    assert get_role("base").batch_facts


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

"""The OpenSSH connector: its command line and socket rules here; on lab hosts, the same
answers as pyinfra's own connector, shared connections that outlive a run, commands kept
off the local process list, binary-safe file transfer and strict host keys."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import gevent
import pytest
from pyinfra.api import Config, Inventory, State, StringCommand
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import PyinfraError

from mlsite import sshmux
from mlsite.hosts import openssh
from tests.conftest import LabSession

# -- without hosts ---------------------------------------------------------------------------


def _connector(tmp_path: Path, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(sshmux.CONTROL_DIR_ENV, str(tmp_path / "mux"))
    inventory = Inventory(([("h", data)], {}))
    openssh.use_openssh(inventory)
    State(inventory, Config())
    return inventory.get_host("h").connector


def _options(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-o")


def test_command_line_checks_host_keys_and_shares_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {
        "ssh_hostname": "10.0.0.5",
        "ssh_port": 2222,
        "ssh_user": "ops",
        "ssh_key": "/keys/id",
        "ssh_known_hosts_file": "/keys/known_hosts",
        "ssh_strict_host_key_checking": "yes",
    }
    argv = _connector(tmp_path, data, monkeypatch).argv()
    options = _options(argv)
    assert argv[0] == "ssh" and argv[-1] == "10.0.0.5"
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-l") + 1] == "ops"
    assert argv[argv.index("-i") + 1] == "/keys/id" and options["IdentitiesOnly"] == "yes"
    assert options["StrictHostKeyChecking"] == "yes"
    assert options["UserKnownHostsFile"] == "/keys/known_hosts"
    assert options["GlobalKnownHostsFile"] == "/dev/null"
    assert options["BatchMode"] == "yes"
    assert options["ControlMaster"] == "auto"
    assert options["ControlPath"] == str(tmp_path / "mux" / "ops@10.0.0.5:2222")
    assert options["ControlPersist"] == "60"
    assert (tmp_path / "mux").stat().st_mode & 0o777 == 0o700


def test_defaults_follow_pyinfra_and_persist_zero_keeps_the_master_for_the_run_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sshmux.PERSIST_ENV, "0")
    connector = _connector(tmp_path, {"ssh_hostname": "db1"}, monkeypatch)
    options = _options(connector.argv())
    assert options["StrictHostKeyChecking"] == "accept-new"  # pyinfra's own default
    assert "UserKnownHostsFile" not in options and "IdentitiesOnly" not in options
    assert options["ControlPersist"] == "yes" and connector.persist == 0


@pytest.mark.parametrize("raw", ["soon", "-5", "1.5"])
def test_a_bad_persist_value_is_named(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sshmux.PERSIST_ENV, raw)
    with pytest.raises(ValueError, match=sshmux.PERSIST_ENV):
        sshmux.persist_s()


def test_no_sharing_through_a_directory_others_can_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "mux"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    connector = _connector(tmp_path, {"ssh_hostname": "db1"}, monkeypatch)
    assert connector.control is None
    assert _options(connector.argv())["ControlPath"] == "none"
    assert "ControlMaster" not in _options(connector.argv())
    if os.getuid() == 0:  # another owner, even owner-only, is refused too
        shared.chmod(0o700)
        os.chown(shared, 65534, 65534)
        assert not sshmux.private_dir(shared)


def test_a_socket_path_too_long_for_unix_turns_sharing_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_dir = tmp_path / ("d" * 90)
    monkeypatch.setenv(sshmux.CONTROL_DIR_ENV, str(long_dir))
    inventory = Inventory(([("h", {"ssh_hostname": "10.0.0.5"})], {}))
    openssh.use_openssh(inventory)
    State(inventory, Config())
    assert inventory.get_host("h").connector.control is None


def test_output_is_split_into_pyinfra_lines() -> None:
    assert [x.line for x in openssh.lines_of(b"a\n\nb\n", "stdout")] == ["a", "", "b"]
    assert [x.line for x in openssh.lines_of(b"a\nb", "stdout")] == ["a", "b"]
    assert [x.line for x in openssh.lines_of(b"a\rb\x0bc\n", "stdout")] == ["a\rb\x0bc"]
    assert openssh.lines_of(b"", "stderr") == []
    assert openssh._stdin_bytes(["x", "y\n"]) == b"x\ny\n"


# -- on lab hosts ----------------------------------------------------------------------------

COMMANDS = (
    "echo one; echo two",
    "printf 'no final newline'",
    "printf 'a\\n\\n\\nb\\n\\n'",
    "echo out; echo err >&2; exit 3",
    "echo 'ünïcödé ✓'",
    "cat; echo after-stdin",  # stdin is at end of file
    "x=$(head -c 300000 /dev/zero | tr '\\0' a); echo ${#x}",
)


def _lab_state(lab: LabSession, *, shared: bool, names: tuple[str, ...] = ("lab-1",)) -> State:
    inventory = Inventory(([(n, lab.ssh_data(n)) for n in names], {}))
    if shared:
        openssh.use_openssh(inventory)
    return State(inventory, Config(CONNECT_TIMEOUT=10))


def _connected(state: State) -> Any:
    connect_all(state)
    return next(iter(state.activated_hosts))


def _master_pid(lab: LabSession, host: str = "lab-1") -> str:
    planned = lab.host(host)
    path = sshmux.control_path(planned.ssh_user, str(planned.address), planned.ssh_port)
    proc = subprocess.run(
        ["ssh", "-o", f"ControlPath={path}", "-O", "check", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stderr.strip() if proc.returncode == 0 else ""


@pytest.mark.lab
def test_answers_match_pyinfras_own_connector(lab: LabSession) -> None:
    answers = []
    for shared in (True, False):
        state = _lab_state(lab, shared=shared)
        host = _connected(state)
        try:
            got = []
            for command in COMMANDS:
                ok, output = host.run_shell_command(StringCommand(command))
                got.append((ok, output.stdout_lines, output.stderr_lines))
            # a sudo-style wrapper and a success code are applied the same way
            got.append(host.run_shell_command("exit 3", _success_exit_codes=[3])[0])
            got.append(host.run_shell_command("cat", _stdin="fed\n")[1].stdout_lines)
        finally:
            disconnect_all(state)
        answers.append(got)
    assert answers[0] == answers[1]
    assert answers[0][3] == (False, ["out"], ["err"]) and answers[0][6][1] == ["300000"]
    assert answers[0][-2] is True and answers[0][-1] == ["fed"]


@pytest.mark.lab
def test_the_connection_outlives_the_run_and_lab_hosts_close_it(lab: LabSession) -> None:
    planned = lab.host("lab-2")
    target = [(planned.ssh_user, str(planned.address), planned.ssh_port)]
    sshmux.close_masters(target)
    pids = []
    for _ in range(2):
        state = _lab_state(lab, shared=True, names=("lab-2",))
        host = _connected(state)
        assert host.run_shell_command("true")[0]
        disconnect_all(state)
        pids.append(_master_pid(lab, "lab-2"))
    assert pids[0].startswith("Master running") and pids[0] == pids[1]
    # the mux protocol spoken without an ssh process names the same master
    path = sshmux.control_path(*target[0])
    assert pids[0] == f"Master running (pid={sshmux.master_pid(path)})"
    assert sshmux.close_masters(target) == 1
    assert _master_pid(lab, "lab-2") == ""
    assert sshmux.master_pid(path) is None


@pytest.mark.lab
def test_persist_zero_closes_the_master_at_disconnect(
    lab: LabSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = lab.host("lab-3")
    sshmux.close_masters([(planned.ssh_user, str(planned.address), planned.ssh_port)])
    monkeypatch.setenv(sshmux.PERSIST_ENV, "0")
    state = _lab_state(lab, shared=True, names=("lab-3",))
    host = _connected(state)
    assert host.run_shell_command("true")[0] and _master_pid(lab, "lab-3")
    disconnect_all(state)
    assert _master_pid(lab, "lab-3") == ""


def _local_cmdlines() -> str:
    """Command lines of this machine's processes (lab hosts' processes, in their own PID
    namespaces, are visible in /proc here too: they are left out)."""
    ours = os.readlink("/proc/self/ns/pid")
    seen = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.readlink(proc / "ns" / "pid") == ours:
                    seen.append((proc / "cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                continue
    return "\n".join(seen)


@pytest.mark.lab
def test_commands_stay_off_the_local_process_list(lab: LabSession) -> None:
    marker = f"mlsite-secret-{time.time_ns()}"
    state = _lab_state(lab, shared=True)
    host = _connected(state)
    try:
        job = gevent.spawn(host.run_shell_command, f"sleep 1.5; echo {marker}")
        gevent.sleep(0.7)
        local = _local_cmdlines()
        remote = lab.run("lab-1", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '").stdout
        ok, output = job.get(timeout=20)
    finally:
        disconnect_all(state)
    assert marker in remote  # it is running there, as its own command
    assert marker not in local
    assert ok and output.stdout_lines == [marker]


@pytest.mark.lab
def test_files_travel_byte_for_byte(lab: LabSession, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 300 + b"\n\r\x00 no final newline"
    source = tmp_path / "in.bin"
    source.write_bytes(payload)
    remote = "/tmp/mlsite openssh test.bin"
    state = _lab_state(lab, shared=True)
    host = _connected(state)
    try:
        assert host.put_file(str(source), remote)
        sums = lab.run("lab-1", f"sha256sum '{remote}'").stdout.split()[0]
        back = tmp_path / "out.bin"
        assert host.get_file(remote, str(back))
        with pytest.raises(OSError, match="/nonexistent/dir/x"):
            host.put_file(str(source), "/nonexistent/dir/x")
    finally:
        disconnect_all(state)
        lab.run("lab-1", f"rm -f '{remote}'")
    assert sums == hashlib.sha256(payload).hexdigest()
    assert back.read_bytes() == payload


@pytest.mark.lab
def test_a_wrong_host_key_or_a_closed_port_fails_the_connect(
    lab: LabSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sshmux.CONTROL_DIR_ENV, str(tmp_path / "mux"))  # no shared master
    wrong = tmp_path / "known_hosts"
    entries = lab.known_hosts.read_text().splitlines()  # "address,name type key"
    # lab-1's address with lab-2's key
    key = next(line for line in entries if line.split(" ")[0].endswith(",lab-2")).split(" ", 1)[1]
    wrong.write_text(f"{lab.host('lab-1').address} {key}\n")
    for data in (
        {**lab.ssh_data("lab-1"), "ssh_known_hosts_file": str(wrong)},
        {**lab.ssh_data("lab-1"), "ssh_port": 2},
    ):
        inventory = Inventory(([("lab-1", data)], {}))
        openssh.use_openssh(inventory)
        state = State(inventory, Config(CONNECT_TIMEOUT=10))
        with pytest.raises(PyinfraError):
            connect_all(state)
        assert not state.activated_hosts
        assert not list((tmp_path / "mux").iterdir())


def test_no_master_answers_on_a_missing_or_foreign_socket(tmp_path: Path) -> None:
    import socket as stdsocket
    import threading

    assert sshmux.master_pid(tmp_path / "none") is None
    # something listening that is not an ssh master: refused, not mistaken for one
    path = tmp_path / "sock"
    server = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer_garbage() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(64)
            conn.sendall(b"\x00\x00\x00\x08" + b"\x00\x00\x00\x07" + b"\x00\x00\x00\x04")

    worker = threading.Thread(target=answer_garbage)
    worker.start()
    try:
        assert sshmux.master_pid(path, timeout_s=5) is None
    finally:
        worker.join(timeout=5)
        server.close()

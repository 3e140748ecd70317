"""The command line: help everywhere, clear one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from mlsite import cli

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "spec" / "cases"


def _mlsite(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlsite.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _walk(command: Any, path: str = "mlsite") -> list[tuple[str, Any]]:
    out = [(path, command)]
    if hasattr(command, "commands"):  # a group (typer's own classes are not click's)
        for name, sub in command.commands.items():
            out += _walk(sub, f"{path} {name}")
    return out


def test_every_command_and_option_has_help() -> None:
    cli._mount_subcommands()
    root = typer.main.get_command(cli.app)
    commands = _walk(root)
    assert len(commands) > 5
    for path, command in commands:
        assert (command.help or "").strip(), f"`{path}` has no help text"
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert (param.help or "").strip(), f"`{path}` option {param.opts} has no help text"
            if param.param_type_name == "argument":
                assert getattr(param, "help", ""), (
                    f"`{path}` argument {param.name} has no help text"
                )


@pytest.mark.parametrize("stack", ["akiba", "shiva", "lab", "example"])
def test_validate_example_stacks_exit_0(stack: str) -> None:
    result = _mlsite("validate", "--stack", stack)
    assert result.returncode == 0, result.stderr
    assert f"site {stack} is valid" in result.stdout


def test_validate_reports_all_problems_and_exits_2() -> None:
    result = _mlsite("validate", str(CASES / "even-monitors.error.yaml"))
    assert result.returncode == 2
    assert "even-monitors.error.yaml:" in result.stderr
    assert "storage.ceph: the number of Ceph monitors must be odd (got 2" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["validate", "--stack", "no-such-stack"], "no stack 'no-such-stack'"),
        (["validate", "/nonexistent/Pulumi.x.yaml"], "no such file"),
        (["validate", str(CASES / "malformed-yaml.error.yaml")], "not valid YAML"),
        (["validate", str(CASES / "unknown-key.error.yaml")], "unknown key `adress`"),
        (["validate"], "give either --stack NAME or a FILE"),
    ],
)
def test_bad_input_is_one_clear_line_without_traceback(args: list[str], text: str) -> None:
    result = _mlsite(*args)
    assert result.returncode == 2
    assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if text in line]) == 1


def test_validate_finds_stacks_from_a_subdirectory() -> None:
    result = _mlsite("validate", "--stack", "lab", cwd=ROOT / "stacks")
    assert result.returncode == 0, result.stderr


def test_schema_is_json_and_describes_the_site() -> None:
    result = _mlsite("schema")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    site = doc["$defs"]["SiteSpec"]
    assert set(site["required"]) == {"site", "hosts"}
    assert "mlsite:site" in doc["properties"]["config"]["properties"]

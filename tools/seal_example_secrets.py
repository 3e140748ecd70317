"""Seal the example stacks' ``secure:`` values as real Pulumi ciphertexts.

The example sites (akiba, shiva) are read by people and run by tests through the real
engine, so every ``secure:`` value in them must decrypt. Each stack has an example
passphrase (``EXAMPLE_PASSPHRASES`` in tests/engine/conftest.py; they protect nothing and are published here on
purpose) and each secret an example plain text that says what it stands for.

    .venv/bin/python tools/seal_example_secrets.py akiba shiva

For each stack this creates the stack in a throwaway file backend with a throwaway copy of
the stack file, sets every secret with ``pulumi config set --secret --path``, and writes the
resulting ``encryptionsalt`` and ciphertexts back into the original file in place, line by
line, so its comments and layout stay as they are.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine.conftest import EXAMPLE_PASSPHRASES  # noqa: E402  (the one place they live)


def secure_paths(node: Any, path: str = "") -> list[str]:
    """Pulumi ``--path`` expressions of every ``{secure: ...}`` under ``node``, in file order."""
    if isinstance(node, dict):
        if set(node) == {"secure"}:
            return [path]
        out: list[str] = []
        for key, value in node.items():
            out += secure_paths(value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in secure_paths(item, f"{path}[{i}]")]
    return []


def lookup(node: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


def example_value(stack: str, path: str) -> str:
    return f"example-{stack}-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def seal(stack: str, pulumi: str) -> None:
    stack_file = ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    text = stack_file.read_text()
    config = yaml.safe_load(text)["config"]
    paths = [p for p in secure_paths(config) if p.startswith("mlsite:site")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "stacks").mkdir()
        shutil.copy(ROOT / "Pulumi.yaml", work / "Pulumi.yaml")
        scratch = work / "stacks" / stack_file.name
        scratch.write_text(re.sub(r"^encryptionsalt:.*\n", "", text, flags=re.MULTILINE))
        (work / "state").mkdir()
        env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
            "PULUMI_HOME": str(work / "home"),
            "PULUMI_CONFIG_PASSPHRASE": EXAMPLE_PASSPHRASES[stack],
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }

        def run(*args: str) -> None:
            subprocess.run([pulumi, *args], cwd=work, env=env, check=True, capture_output=True)

        run("stack", "init", stack, "--secrets-provider", "passphrase")
        for path in paths:
            run(
                "config",
                "set",
                "--stack",
                stack,
                "--secret",
                "--path",
                path,
                example_value(stack, path),
            )
        sealed = yaml.safe_load(scratch.read_text())
    lines = text.splitlines(keepends=True)
    secure_lines = [i for i, line in enumerate(lines) if re.match(r"\s*secure: v1:", line)]
    if len(secure_lines) != len(paths):
        raise SystemExit(f"{stack_file}: {len(secure_lines)} secure lines, {len(paths)} paths")
    for i, path in zip(secure_lines, paths, strict=True):
        cipher = lookup(sealed["config"], path)["secure"]
        lines[i] = re.sub(r"secure: v1:\S+", f"secure: {cipher}", lines[i])
    out = "".join(lines)
    salt = f"encryptionsalt: {sealed['encryptionsalt']}\n"
    if re.search(r"^encryptionsalt:", out, re.MULTILINE):
        out = re.sub(r"^encryptionsalt:.*\n", salt, out, flags=re.MULTILINE)
    else:
        out = out.replace("\nconfig:\n", f"\n{salt}config:\n", 1)
    stack_file.write_text(out)
    print(f"{stack_file.name}: sealed {len(paths)} secrets")


def main(argv: list[str]) -> int:
    pulumi = shutil.which("pulumi", path=str(ROOT / ".venv" / "bin")) or "pulumi"
    for stack in argv or sorted(EXAMPLE_PASSPHRASES):
        seal(stack, pulumi)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

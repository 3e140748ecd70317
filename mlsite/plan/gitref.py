"""Plan a stack as it was at a git ref: a throwaway worktree, planned in a fresh process
with that ref's stack file, stack programs and (when the repository holds them) code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mlsite.plan.tree import FORMAT


class GitRefError(RuntimeError):
    """The ref cannot be planned; the message says why and what to do."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )


def empty_plan(stack: str, project: str = "mlsite") -> dict[str, Any]:
    """The plan of a stack that does not exist yet: everything in the other plan is added."""
    return {"format": FORMAT, "project": project, "stack": stack, "resources": []}


def plan_at_ref(ref: str, stack: str, root: Path, timeout_s: float = 600) -> dict[str, Any]:
    """The plan document of ``stack`` at ``ref`` of the repository holding ``root``."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise GitRefError(f"{root} is not inside a git repository; compare two plan files instead")
    repo = Path(top.stdout.strip())
    prefix = root.resolve().relative_to(repo.resolve())
    if _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise GitRefError(f"no commit {ref!r} here (fetch it first, e.g. `git fetch origin {ref}`)")
    if (
        _git(
            repo,
            "cat-file",
            "-e",
            f"{ref}:{(prefix / 'stacks' / f'Pulumi.{stack}.yaml').as_posix()}",
        ).returncode
        != 0
    ):
        return empty_plan(stack)  # a stack added by this change
    with tempfile.TemporaryDirectory(prefix="mlsite-base-") as tmp:
        tree = Path(tmp) / "tree"
        added = _git(repo, "worktree", "add", "--detach", "--force", str(tree), ref)
        if added.returncode != 0:
            raise GitRefError(f"cannot check out {ref}: {added.stderr.strip()}")
        try:
            # The ref's own code comes first on the path (this repository, where mlsite
            # lives in the tree); a site repository uses the installed mlsite with its
            # own stacks/ and stack programs.
            project = tree / prefix
            out = Path(tmp) / "base.json"
            env = dict(os.environ, MLSITE_PROJECT=str(project), PYTHONPATH=str(project))
            proc = subprocess.run(
                [sys.executable, "-m", "mlsite.plan.run", "--stack", stack, "--json", str(out)],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
            if proc.returncode != 0:
                tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
                raise GitRefError(f"planning stack {stack} at {ref} failed: {tail}")
            doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
            return doc
        finally:
            _git(repo, "worktree", "remove", "--force", str(tree))

"""Commands ``plan`` and ``diff``: the offline review of a stack."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from mlsite.plan.diff import PlanFormatError, diff_plans, render_markdown
from mlsite.spec import SiteError, project_root, stack_path


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"mlsite: {message}", err=True)
    raise typer.Exit(code)


def _site_error(exc: SiteError) -> NoReturn:
    for diagnostic in exc.diagnostics:
        typer.echo(str(diagnostic), err=True)
    _fail(f"{len(exc.diagnostics)} problem(s) in the site description")


def plan(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A stack file (stacks/Pulumi.<stack>.yaml of a project) instead of --stack.",
            show_default=False,
        ),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml."),
    ] = None,
    json_file: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Also write the plan as stable JSON to this file ('-': stdout)."
        ),
    ] = None,
) -> None:
    """Show the resources a stack declares, offline (Pulumi mocks: no CLI, credentials or hosts).

    Runs the project's own program (Pulumi.yaml's main, else its __main__.py), as `pulumi up`
    would."""
    from mlsite.plan.mocks import UnmockedCall
    from mlsite.plan.run import dumps, plan_stack
    from mlsite.plan.tree import render_tree, scrub

    stack, root = _stack_of(file, stack)
    try:
        run = plan_stack(stack, root)
    except SiteError as exc:
        _site_error(exc)
    except UnmockedCall as exc:
        _fail(str(exc))
    except Exception as exc:
        # A stack program that raises: one line, unless MLSITE_DEBUG asks for the traceback.
        if os.environ.get("MLSITE_DEBUG"):
            raise
        _fail(
            f"the program of stack {stack} failed: {type(exc).__name__}: {exc} (MLSITE_DEBUG=1 shows where)"
        )
    doc = run.doc()
    text = dumps(doc, run.known_secrets)
    if json_file is not None and str(json_file) == "-":
        sys.stdout.write(text)
        return
    if json_file is not None:
        json_file.write_text(text, encoding="utf-8")
    sys.stdout.write(scrub(render_tree(doc), run.known_secrets))


def _stack_of(file: Path | None, stack: str | None) -> tuple[str, Path | None]:
    """The stack and project a plan is asked for: ``--stack`` in the current project, or a
    stack file, ``Pulumi.<stack>.yaml``, in the project above it."""
    if (file is None) == (stack is None):
        _fail("give either --stack NAME or a stack FILE (not both)")
    if stack is not None:
        return stack, None
    assert file is not None
    name = file.name
    if not (name.startswith("Pulumi.") and name.endswith(".yaml")) or name == "Pulumi.yaml":
        _fail(f"{file}: a stack file is named Pulumi.<stack>.yaml")
    if not file.is_file():
        _fail(f"{file}: no such stack file")
    root = project_root(file.resolve().parent)
    expected = stack_path(name[len("Pulumi.") : -len(".yaml")], root)
    if expected.resolve() != file.resolve():
        _fail(
            f"{file} is not where its project keeps stack files ({expected}); the project's "
            "program reads its stacks from there"
        )
    return name[len("Pulumi.") : -len(".yaml")], root


def _read_plan(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the plan {path}: {exc}")
    if not isinstance(doc, dict):
        _fail(f"{path} is not an mlsite plan")
    return doc


def diff(
    base: Annotated[
        Path | None, typer.Argument(help="Plan JSON before the change.", show_default=False)
    ] = None,
    head: Annotated[
        Path | None, typer.Argument(help="Plan JSON after the change.", show_default=False)
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option("--stack", "-s", help="Plan this stack at --base and in the working tree."),
    ] = None,
    base_ref: Annotated[
        str | None,
        typer.Option("--base", help="Git ref to compare the working tree with (with --stack)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the Markdown here instead of stdout."),
    ] = None,
) -> None:
    """Markdown for a pull request: what a change adds, changes, replaces and deletes.

    Plans compared as files show a rotated secret as changed only when both were made with
    the same MLSITE_PLAN_SECRET_KEY (any random hex, never stored); --stack does this itself.

    Exit 0: nothing destructive; 3: a protected or data-bearing resource would be deleted
    or replaced; 2: bad input.
    """
    if stack is not None:
        if base is not None or head is not None or base_ref is None:
            _fail("give either BASE.json HEAD.json, or --stack S --base GITREF")
        from mlsite.plan.gitref import GitRefError, plan_at_ref
        from mlsite.plan.run import plan_stack
        from mlsite.plan.tree import SECRET_KEY_ENV, new_secret_key

        # one key for both plans, and only for them: a rotated secret shows as changed
        os.environ[SECRET_KEY_ENV] = new_secret_key()
        try:
            old = plan_at_ref(base_ref, stack, project_root())
            run = plan_stack(stack)
        except SiteError as exc:
            _site_error(exc)
        except GitRefError as exc:
            _fail(str(exc))
        new = json.loads(json.dumps(run.doc()))
    else:
        if base is None or head is None or base_ref is not None:
            _fail("give either BASE.json HEAD.json, or --stack S --base GITREF")
        old, new = _read_plan(base), _read_plan(head)
    try:
        result = diff_plans(old, new)
    except PlanFormatError as exc:
        _fail(str(exc))
    markdown = render_markdown(result)
    if output is None:
        sys.stdout.write(markdown)
    else:
        output.write_text(markdown, encoding="utf-8")
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``mlsite`` app."""
    for command in (plan, diff):
        app.command()(command)

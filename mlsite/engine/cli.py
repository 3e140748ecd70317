"""Commands ``up``, ``preview``, ``refresh`` and ``destroy``: the real Pulumi engine."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from mlsite.spec import SiteError, load_stack, project_root

StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")
]
ExtraArgs = Annotated[
    list[str] | None,
    typer.Argument(help="More arguments for pulumi (after --), e.g. -- --target URN."),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"mlsite: {message}", err=True)
    raise typer.Exit(code)


def engine(op: str, stack: str, extra: list[str] | None = None) -> None:
    """Validate the stack (every problem with file and line, before the engine starts),
    then run ``pulumi OP`` on it; exits with Pulumi's status."""
    from mlsite.engine.run import NotAvailable, Operation, is_lab, lab_secrets_file, run
    from mlsite.rehearse import provide_lab_secrets

    try:
        loaded = load_stack(stack)
    except SiteError as exc:
        for diagnostic in exc.diagnostics:
            typer.echo(str(diagnostic), err=True)
        _fail(f"{len(exc.diagnostics)} problem(s) in the site description")
    if is_lab(loaded.site):
        store = lab_secrets_file()
        for name in provide_lab_secrets(loaded.site, store):
            typer.echo(f"generated lab secret {name} (kept in {store})")
    op_: Operation = op  # type: ignore[assignment]
    try:
        code = run(op_, stack, project_root(), loaded.site, loaded.path, extra or ())
    except NotAvailable as exc:
        _fail(str(exc))
    if code != 0:
        raise typer.Exit(code)


def up(stack: StackOption, extra: ExtraArgs = None) -> None:
    """Apply a stack with the Pulumi engine (no preview first: review with `preview`)."""
    engine("up", stack, extra)


def preview(stack: StackOption, extra: ExtraArgs = None) -> None:
    """Show what `up` would do, with the real engine and providers (--diff); touches no host."""
    engine("preview", stack, extra)


def refresh(stack: StackOption, extra: ExtraArgs = None) -> None:
    """Read the live state: host roles run a dry run and record drift, which `up` repairs."""
    engine("refresh", stack, extra)


def destroy(
    stack: StackOption,
    yes: Annotated[
        bool, typer.Option("--yes", help="Really delete the stack's resources.")
    ] = False,
    extra: ExtraArgs = None,
) -> None:
    """Delete a stack's resources (refused while protected ones exist; hosts stay as they are)."""
    if not yes:
        _fail("`destroy` deletes the stack's resources: add --yes to go ahead")
    engine("destroy", stack, extra)


def env(stack: StackOption) -> None:
    """Print the shell lines that set plain `pulumi` up for a stack, as `mlsite up` runs it:
    eval "$(mlsite env --stack lab)" && pulumi preview --stack lab. Secret values are never
    printed: a lab's generated secrets are sourced from their 0600 file."""
    import shlex

    from mlsite.engine.run import ENGINE_VARS, NotAvailable, engine_env, is_lab, lab_secrets_file

    try:
        loaded = load_stack(stack)
        variables = engine_env(project_root(), loaded.site, loaded.path)
    except SiteError as exc:
        for diagnostic in exc.diagnostics:
            typer.echo(str(diagnostic), err=True)
        _fail(f"{len(exc.diagnostics)} problem(s) in the site description")
    except NotAvailable as exc:
        _fail(str(exc))
    for name in ENGINE_VARS:
        if name in variables:
            typer.echo(f"export {name}={shlex.quote(variables[name])}")
    secrets_file = lab_secrets_file()
    if is_lab(loaded.site):
        from mlsite.rehearse import provide_lab_secrets

        provide_lab_secrets(loaded.site, secrets_file)
        if secrets_file.is_file():
            typer.echo(f"set -a; . {shlex.quote(str(secrets_file))}; set +a")


def register(app: typer.Typer) -> None:
    """Add these commands to the ``mlsite`` app."""
    for command in (up, preview, refresh, destroy, env):
        app.command()(command)

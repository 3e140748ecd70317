"""The `mlsite` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlsite.cli_support import fail, load_site_or_exit
from mlsite.coverage import not_built
from mlsite.spec.schema import stack_file_schema

app = typer.Typer(
    name="mlsite",
    help="Describe a machine-learning site once; validate, rehearse and apply it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StackOption = Annotated[
    str | None,
    typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml."),
]


@app.command()
def validate(
    file: Annotated[
        Path | None,
        typer.Argument(help="A stack file to check instead of --stack.", show_default=False),
    ] = None,
    stack: StackOption = None,
) -> None:
    """Check a site description and report every problem at once (exit 2 if any)."""
    loaded = load_site_or_exit(stack, file)
    site = loaded.site
    parts = [
        name
        for name, present in (
            ("ceph", site.storage.ceph is not None),
            ("nfs", site.storage.nfs is not None),
            ("personal-databases", bool(site.databases.personal)),
            ("registry", site.registry is not None),
            ("images", bool(site.images)),
        )
        if present
    ]
    gpus = sum(h.gpu_count for h in site.hosts)
    typer.echo(
        f"{loaded.path.name}: site {site.site.name} is valid: {len(site.hosts)} hosts, {gpus} GPUs; "
        f"built: hosts{''.join(', ' + p for p in parts)}"
    )
    described = not_built(site)
    if described:
        typer.echo("described, not built yet (nothing applies these):")
        for item in described:
            typer.echo(f"  {item.path}: {item.what}")


@app.command()
def schema(
    site_only: Annotated[
        bool,
        typer.Option(
            "--site-only", help="Schema of the site description alone, not of the stack file."
        ),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of stack files (for editor completion and checks)."""
    doc = stack_file_schema(site_only=site_only)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@app.command()
def rehearse(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Lab stack to rehearse.")] = "lab",
) -> None:
    """Bring the lab site's hosts up on this machine, then `pulumi up` the stack on them."""
    from mlsite.engine.cli import engine
    from mlsite.lab import Lab, LabError, plan_lab
    from mlsite.rehearse import where_is_what

    loaded = load_site_or_exit(stack)
    lab = Lab()
    try:
        plan = plan_lab(loaded.site)
        typer.echo(f"bringing up {len(plan.hosts)} lab hosts ...")
        lab.up(plan)
    except LabError as exc:
        fail(str(exc))
    typer.echo(f"applying the site: pulumi up --stack {stack}")
    try:
        engine("up", stack)
    except typer.Exit as exc:
        if exc.exit_code:
            fail("`pulumi up` did not finish cleanly (see above); the lab stays up for a look", 1)
    typer.echo("")
    from mlsite.engine.run import lab_secrets_file

    for line in where_is_what(loaded.site, str(plan.gateway), stack, lab_secrets_file()):
        typer.echo(line)
    typer.echo("take everything down with: mlsite lab down")
    import shutil

    if shutil.which("mlsite") is None:
        bin_dir = Path(sys.executable).parent
        typer.echo(f"(mlsite is in {bin_dir}: run `. {bin_dir}/activate` to use it as shown)")


def _mount_subcommands() -> None:
    from mlsite.lab.cli import app as lab_app

    app.add_typer(lab_app, name="lab", help="Bring up lab hosts on this machine and drill faults.")

    from mlsite.plan.cli import register as register_plan

    register_plan(app)
    from mlsite.engine.cli import register as register_engine

    register_engine(app)
    from mlsite.db_cli import register as register_db

    register_db(app)
    from mlsite.storage_cli import register as register_storage

    register_storage(app)


def main() -> None:
    """Entry point of the console script."""
    _mount_subcommands()
    app()


if __name__ == "__main__":
    main()

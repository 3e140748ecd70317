"""`mlsite storage status`: Ceph health and usage against the nearfull and full ratios."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mlsite.spec import Role

app = typer.Typer(no_args_is_help=True, help="Storage of the site.")


@app.command()
def status(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")
    ],
) -> None:
    """Show Ceph health and usage; exit 1 above the nearfull ratio, 2 at the full ratio."""
    from mlsite.cli_support import fail, load_site_or_exit
    from mlsite.hosts.remote import run_on
    from mlsite.storage.usage import usage

    loaded = load_site_or_exit(stack)
    ceph = loaded.site.storage.ceph
    mons = loaded.site.hosts_with(Role.CEPH_MON)
    if ceph is None or not mons:
        fail(f"stack {stack} has no Ceph cluster")
    answers = {}
    for name, command in (("df", "df"), ("osd_df", "osd df"), ("health", "health")):
        proc = run_on(mons[0], loaded.path, "ceph", *command.split(), "-f", "json", timeout_s=60)
        if proc.returncode != 0:
            fail(f"{mons[0].name}: ceph {command} failed: {proc.stderr.strip()}", 1)
        answers[name] = json.loads(proc.stdout)
    report = usage(
        answers["df"], answers["osd_df"], answers["health"], ceph.nearfull_ratio, ceph.full_ratio
    )
    typer.echo("\n".join(report.lines))
    if report.level != "ok":
        raise typer.Exit(2 if report.level == "full" else 1)


def register(parent: typer.Typer) -> None:
    """Mount `mlsite storage` on the main command line."""
    parent.add_typer(app, name="storage", help="Storage of the site: Ceph health and usage.")

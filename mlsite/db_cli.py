"""`mlsite db`: per-user copies of a golden database (clone, list, drop).

The copies live on the site's db host; these commands run its ``mlsite-db`` tool over SSH
(installed by the personal_db host role) and print its JSON answer.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mlsite.spec import LoadedSite, Role

app = typer.Typer(no_args_is_help=True, help="Per-user copies of a golden database.")

SetOption = Annotated[
    str | None,
    typer.Option("--set", help="Database set (databases.personal[].name). Default: the only one."),
]
StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")
]


def _run(stack: str, db_set: str | None, *args: str) -> None:
    from mlsite.cli_support import fail, load_site_or_exit
    from mlsite.hosts.remote import run_on

    loaded: LoadedSite = load_site_or_exit(stack)
    site = loaded.site
    sets = [d.name for d in site.databases.personal]
    if not sets:
        fail(f"stack {stack} has no databases.personal")
    name = db_set or (sets[0] if len(sets) == 1 else None)
    if name not in sets:
        fail(f"pick a set with --set ({', '.join(sets)})")
    hosts = site.hosts_with(Role.DB)
    if not hosts:
        fail(f"stack {stack} has no host with role db")
    proc = run_on(hosts[0], loaded.path, "/usr/local/sbin/mlsite-db", str(name), *args)
    out = proc.stdout.strip()
    try:
        answer = json.loads(out.splitlines()[-1]) if out else {"error": proc.stderr.strip()}
    except json.JSONDecodeError:
        answer = {"error": out or proc.stderr.strip()}
    typer.echo(json.dumps(answer, indent=2, sort_keys=True))
    if proc.returncode != 0 or "error" in answer:
        raise typer.Exit(1)


@app.command()
def clone(
    user: Annotated[str, typer.Argument(help="Workspace user getting the copy.")],
    stack: StackOption,
    db_set: SetOption = None,
) -> None:
    """Copy the golden database for USER (snapshot + copy-on-write clone) and start it."""
    _run(stack, db_set, "clone", user)


@app.command("list")
def list_copies(stack: StackOption, db_set: SetOption = None) -> None:
    """List the copies with port and expiry (expired copies are dropped first)."""
    _run(stack, db_set, "list")


@app.command()
def drop(
    user: Annotated[str, typer.Argument(help="User whose copy is dropped.")],
    stack: StackOption,
    db_set: SetOption = None,
) -> None:
    """Stop USER's copy and remove its clone and snapshot."""
    _run(stack, db_set, "drop", user)


def register(parent: typer.Typer) -> None:
    """Mount `mlsite db` on the main command line."""
    parent.add_typer(app, name="db", help="Per-user copies of a golden database.")

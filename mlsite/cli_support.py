"""What every `mlsite` subcommand shares: one-line failures and loading a site or exiting.

Kept apart from ``mlsite.cli`` so the subcommand modules (``db_cli``, ``storage_cli``) that
``mlsite.cli`` registers do not import it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from mlsite.spec import LoadedSite, SiteError, load_file, load_stack


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line on stderr and exit (2: bad input)."""
    typer.echo(f"mlsite: {message}", err=True)
    raise typer.Exit(code)


def load_site_or_exit(stack: str | None, file: Path | None = None) -> LoadedSite:
    """Load the site named by --stack or FILE, or exit 2 listing every problem."""
    if (stack is None) == (file is None):
        fail("give either --stack NAME or a FILE (not both)")
    try:
        return load_file(file) if file is not None else load_stack(str(stack))
    except SiteError as exc:
        for diagnostic in exc.diagnostics:
            typer.echo(str(diagnostic), err=True)
        n = len(exc.diagnostics)
        typer.echo(f"mlsite: {n} problem{'s' if n != 1 else ''} in the site description", err=True)
        raise typer.Exit(2) from None

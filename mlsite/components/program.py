"""The Pulumi program: ``stacks/<stack>.py`` when it exists, else the whole site."""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi

from mlsite.components.site import Site, SiteArgs
from mlsite.spec import CONFIG_KEY, SiteSpec, project_root, validate


def site_from_config() -> SiteSpec:
    """The stack's site description (``mlsite:site``), validated. The engine hands over
    secure values decrypted, so plain text is accepted for secrets here (and only here)."""
    stack = pulumi.get_stack()
    data = pulumi.Config("mlsite").require_object("site")
    return validate(data, f"stacks/Pulumi.{stack}.yaml ({CONFIG_KEY})", plaintext_secrets=True)


def whole_site() -> Site:
    """Build every part of the site description."""
    site = site_from_config()
    built = Site(site.site.name, SiteArgs(site))
    pulumi.export("site", built.name)
    return built


def custom_program(root: Path | None = None) -> Path | None:
    """``stacks/<stack>.py`` of the current stack, if it exists."""
    path = project_root(root) / "stacks" / f"{pulumi.get_stack()}.py"
    return path if path.is_file() else None


def main(root: Path | None = None) -> None:
    """Run the program of the current stack."""
    custom = custom_program(root)
    if custom is not None:
        runpy.run_path(str(custom), run_name="__pulumi_stack__")
    else:
        whole_site()


def engine_main(root: Path | None = None) -> None:
    """``main`` as the engine runs it: a site description the engine cannot take is
    reported as its problems, one line each with file and field, not as a traceback."""
    from mlsite.spec import SiteError

    try:
        main(root)
    except SiteError as exc:
        lines = [str(d) for d in exc.diagnostics]
        n = len(lines)
        lines.append(f"{n} problem{'s' if n != 1 else ''} in the site description")
        raise pulumi.RunError("\n".join(lines)) from None

"""Loading a site description from a Pulumi stack file, with errors for humans.

The site description is the stack's structured config under ``mlsite:site`` in
``stacks/Pulumi.<stack>.yaml``. The file is read directly (no Pulumi CLI). Every problem is
reported with file, line, the YAML path inside the site description, the value found and
how to fix it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mlsite.spec.model import SiteSpec
from mlsite.spec.rules import Missing, Problem, RuleViolations, check_partial
from mlsite.spec.typewalk import describe_field, is_secret_path, model_at
from mlsite.spec.yamlpos import Path, YamlProblem, line_of, load_with_lines

CONFIG_KEY = "mlsite:site"
STACK_DIR = "stacks"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a stack file."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


class SiteError(Exception):
    """A stack file that cannot be used; ``diagnostics`` lists every problem."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(map(str, diagnostics)))
        self.diagnostics = diagnostics


@dataclass(frozen=True)
class LoadedSite:
    """A validated site description and where it came from."""

    site: SiteSpec
    path: FsPath
    stack: str | None
    lines: dict[Path, int] = field(repr=False, compare=False)


def project_root(start: FsPath | None = None) -> FsPath:
    """The directory holding Pulumi.yaml: $MLSITE_PROJECT, else cwd or its nearest parent."""
    env = os.environ.get("MLSITE_PROJECT")
    if env:
        return FsPath(env)
    here = (start or FsPath.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "Pulumi.yaml").is_file():
            return d
    return here


def stack_path(stack: str, root: FsPath | None = None) -> FsPath:
    """Where the stack file of ``stack`` lives."""
    return project_root(root) / STACK_DIR / f"Pulumi.{stack}.yaml"


def available_stacks(root: FsPath | None = None) -> list[str]:
    """Stacks that have a stack file."""
    d = project_root(root) / STACK_DIR
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in d.glob("Pulumi.*.yaml"))


def load_stack(stack: str, root: FsPath | None = None) -> LoadedSite:
    """Load and validate the site description of ``stack``."""
    path = stack_path(stack, root)
    if not path.is_file():
        known = ", ".join(available_stacks(root)) or "none"
        raise SiteError(
            [
                Diagnostic(
                    _show(path),
                    0,
                    "",
                    f"no stack {stack!r} (no such file; stacks here: {known}); create the file or pick a stack with --stack",
                )
            ]
        )
    return load_file(path, stack=stack)


def load_file(path: FsPath | str, stack: str | None = None) -> LoadedSite:
    """Load and validate a stack file (or a bare site description file)."""
    path = FsPath(path)
    shown = _show(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteError([Diagnostic(shown, 0, "", "no such file; check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError([Diagnostic(shown, 0, "", f"cannot read the file ({exc})")]) from None
    try:
        data, lines = load_with_lines(text)
    except YamlProblem as exc:
        raise SiteError([Diagnostic(shown, exc.line, "", exc.message)]) from None
    site_data, prefix = _site_section(data, shown, lines)
    site_lines = {k[len(prefix) :]: v for k, v in lines.items() if k[: len(prefix)] == prefix}
    site = validate(site_data, shown, site_lines)
    return LoadedSite(site=site, path=path, stack=stack, lines=site_lines)


def validate(
    data: Any,
    file: str = "<site>",
    lines: dict[Path, int] | None = None,
    *,
    plaintext_secrets: bool = False,
) -> SiteSpec:
    """Validate site data (as parsed from YAML); raise ``SiteError`` listing every problem.

    ``plaintext_secrets`` is for config handed over decrypted by the Pulumi engine.
    """
    lines = lines or {}
    context = {"plaintext_secrets": plaintext_secrets}
    try:
        return SiteSpec.model_validate(data, context=context)
    except ValidationError as exc:
        found = list(_diagnostics(exc, data, file, lines))
        found += [
            Diagnostic(file, line_of(lines, p.path), _dotted(p.path), p.message)
            for p in _rules_on_valid_sections(exc, data, context)
        ]
        raise SiteError(sorted(found, key=lambda d: d.line)) from None


def _rules_on_valid_sections(
    exc: ValidationError, data: Any, context: dict[str, Any]
) -> list[Problem]:
    """The cross-field problems of the sections that did validate, when others did not:
    one run reports both kinds. Rules that read a failed section are skipped."""
    if not isinstance(data, dict):
        return []
    failed = {
        str(e["loc"][0])
        for e in exc.errors()
        if e["loc"] and not isinstance((e.get("ctx") or {}).get("error"), RuleViolations)
    }
    if not failed:
        return []  # only rule problems: already reported
    values: dict[str, Any] = {}
    for name, info in SiteSpec.model_fields.items():
        if name in failed or (name not in data and info.is_required()):
            values[name] = Missing(name)
        elif name not in data:
            values[name] = info.get_default(call_default_factory=True)
        else:
            try:
                values[name] = TypeAdapter(
                    Any if info.annotation is None else info.annotation
                ).validate_python(data[name], context=context)
            except ValidationError:
                values[name] = Missing(name)
    return check_partial(SiteSpec.model_construct(**values))


def _site_section(data: Any, shown: str, lines: dict[Path, int]) -> tuple[Any, Path]:
    if isinstance(data, dict) and "config" in data:
        config = data["config"]
        if not isinstance(config, dict) or CONFIG_KEY not in config:
            line = line_of(lines, ("config",))
            raise SiteError(
                [
                    Diagnostic(
                        shown,
                        line,
                        "config",
                        f"no `{CONFIG_KEY}` key; the site description goes under config: {{{CONFIG_KEY}: ...}}",
                    )
                ]
            )
        return config[CONFIG_KEY], ("config", CONFIG_KEY)
    if isinstance(data, dict) and "site" in data and "hosts" in data:
        return data, ()  # a bare site description (no Pulumi stack around it)
    raise SiteError(
        [
            Diagnostic(
                shown,
                1,
                "",
                f"not a stack file: expected a top-level `config:` mapping holding `{CONFIG_KEY}`",
            )
        ]
    )


def _diagnostics(
    exc: ValidationError, data: Any, file: str, lines: dict[Path, int]
) -> Iterable[Diagnostic]:
    for err in exc.errors():
        loc: Path = tuple(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, RuleViolations):
            for p in ctx_error.problems:
                yield Diagnostic(file, line_of(lines, p.path), _dotted(p.path), p.message)
            continue
        yield Diagnostic(
            file, line_of(lines, loc), _dotted(_data_path(loc, data)), _message(err, loc)
        )


def _message(err: Any, loc: Path) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = model_at(SiteSpec, loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return f"unknown key `{key}`; {hint}allowed here: {', '.join(allowed)}"
    if kind == "missing":
        what = describe_field(SiteSpec, loc)
        return f"required key is missing{': ' + what if what else ''}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if is_secret_path(SiteSpec, loc):
        return f"{msg} (value hidden: this is a secret)"
    value = err.get("input")
    if isinstance(value, dict | list):
        return f"{msg} (got a {type(value).__name__})"
    return f"{msg} (got {value!r})"


def _data_path(loc: Path, data: Any) -> Path:
    """Drop pydantic's union-member tags from ``loc`` so the path matches the YAML."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif _is_tag(part):
            continue
        else:
            node = None  # a key missing from the file: name it and stop descending
        out.append(part)
    return tuple(out)


def _is_tag(part: str | int) -> bool:
    return isinstance(part, str) and (
        part in {"generate", "provided", "str", "int", "float", "bool"}
        or "[" in part
        or part.startswith(("function-", "lax-", "json-"))
        or part.endswith("Network")
        or part.endswith("Address")
    )


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(path: FsPath) -> str:
    try:
        return str(path.resolve().relative_to(FsPath.cwd()))
    except ValueError:
        return str(path)

"""The Pulumi toolchain on this machine: the CLI and the Kubernetes provider built from
their Go modules, and the two Python plugins the engine starts.

``python -m mlsite.engine.toolchain install`` (run by ``make setup``) makes
``.venv/bin`` hold everything ``pulumi preview --stack lab`` needs, with no download at
run time:

- ``pulumi``: the pinned CLI. A ``pulumi`` of the pinned version already on PATH (installed
  the official way) is linked as it is; otherwise it is built from the wrapper module
  ``tools/go/pulumi`` (its go.mod names the CLI package as a tool and repeats the replace
  directive the CLI's own go.mod carries) as Pulumi's release build does it.
- ``pulumi-resource-kubernetes``: the provider of the pinned release, from the wrapper
  module ``tools/go/pulumi-resource-kubernetes`` (a small main of our own; the schema and
  mapping files it embeds are copied from the module cache at build time).
- ``pulumi-language-python``: mlsite's own language host (``mlsite.engine.language_host``),
  because Pulumi's is neither on PyPI nor served as a Go module here.
- ``pulumi-resource-pulumi-python``: the plugin that serves Python dynamic providers
  (``HostDeploy`` and friends); upstream ships it only in the release tarball.

Builds are cached per tool, version and wrapper-module content in ``$MLSITE_TOOLS_DIR``
(default ``~/.cache/mlsite/tools``); Go's module and build caches live in fixed
directories (``$MLSITE_GO_DIR``, default ``~/.cache/mlsite/go``), so a second
``make setup`` builds nothing and CI reuses them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlsite.versions import pin

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GO_TOOLS = PROJECT_ROOT / "tools" / "go"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/mlsite`` (``~/.cache/mlsite``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlsite"


def cache_home() -> Path:
    """Where built binaries are kept: ``$MLSITE_TOOLS_DIR``, else ``~/.cache/mlsite/tools``."""
    explicit = os.environ.get("MLSITE_TOOLS_DIR")
    return Path(explicit).absolute() if explicit else cache_root() / "tools"


def go_env() -> dict[str, str]:
    """The environment of every Go command: fixed module and build caches
    (``$MLSITE_GO_DIR``, else ``~/.cache/mlsite/go``), no VCS stamps, go.sum as committed."""
    explicit = os.environ.get("MLSITE_GO_DIR")
    root = Path(explicit).absolute() if explicit else cache_root() / "go"
    return {
        **os.environ,
        "GOMODCACHE": str(root / "mod"),
        "GOCACHE": str(root / "build"),
        "GOFLAGS": "-mod=readonly -buildvcs=false",
        "CGO_ENABLED": "0",
    }


class ToolchainError(RuntimeError):
    """A tool could not be built or found; the message says which and why."""


@dataclass(frozen=True)
class GoTool:
    """One binary built from a wrapper module under ``tools/go``."""

    name: str
    version: str
    package: str
    """What ``go build`` builds inside the wrapper module."""
    ldflags: tuple[str, ...]
    tags: tuple[str, ...] = ()
    prepare: Callable[[Path, dict[str, str]], None] | None = None
    """Runs before the build in the wrapper module's directory (copies generated files)."""
    inputs: tuple[str, ...] = field(default=("go.mod", "go.sum", "main.go"))

    @property
    def module_dir(self) -> Path:
        return GO_TOOLS / self.name

    def fingerprint(self) -> str:
        """Hash of the version and the wrapper module's files: a new pin or a changed
        go.mod is a new build, anything else reuses the cached binary."""
        digest = hashlib.sha256(self.version.encode())
        digest.update(" ".join(self.ldflags + self.tags).encode())
        for name in self.inputs:
            path = self.module_dir / name
            if path.is_file():
                digest.update(name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:12]

    def cached(self) -> Path:
        return cache_home() / self.name / f"{self.version}-{self.fingerprint()}" / self.name


def _copy_kubernetes_schema(module_dir: Path, env: dict[str, str]) -> None:
    """Copy schema.json and terraform-mapping.json from the provider's module in the module
    cache next to our main.go (``go mod download`` fetches the module when missing)."""
    module = "github.com/pulumi/pulumi-kubernetes/provider/v4"

    def module_dir_of() -> str:
        out = subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", module],
            cwd=module_dir,
            env=env,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() if out.returncode == 0 else ""

    found = module_dir_of()
    if not found:
        subprocess.run(["go", "mod", "download", module], cwd=module_dir, env=env, check=True)
        found = module_dir_of()
    if not found:
        raise ToolchainError(f"the module {module} is not in the module cache after a download")
    source = Path(found) / "cmd" / "pulumi-resource-kubernetes"
    for name in ("schema.json", "terraform-mapping.json"):
        target = module_dir / name
        shutil.copyfile(source / name, target)
        target.chmod(0o644)


def go_tools() -> dict[str, GoTool]:
    """The Go-built tools at their pinned versions."""
    cli = pin("pulumi", "cli")
    k8s = pin("pulumi", "kubernetes")
    return {
        "pulumi": GoTool(
            name="pulumi",
            version=cli,
            package="github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
            ldflags=(f"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v{cli}",),
            tags=("osusergo", "grpcnotrace"),
        ),
        "pulumi-resource-kubernetes": GoTool(
            name="pulumi-resource-kubernetes",
            version=k8s,
            package=".",
            ldflags=(
                f"-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version={k8s}",
            ),
            prepare=_copy_kubernetes_schema,
        ),
    }


def build(tool: GoTool, log: Callable[[str], None] = print) -> Path:
    """Build ``tool`` into its cache directory unless it is there; return the binary."""
    target = tool.cached()
    if target.is_file():
        return target
    if shutil.which("go") is None:
        raise ToolchainError(f"building {tool.name} {tool.version} needs Go (`go` is not on PATH)")
    env = go_env()
    if tool.prepare is not None:
        tool.prepare(tool.module_dir, env)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    command = ["go", "build", "-ldflags", " ".join(("-s", "-w", *tool.ldflags))]
    if tool.tags:
        command += ["-tags", ",".join(tool.tags)]
    command += ["-o", str(partial), tool.package]
    log(f"building {tool.name} {tool.version} from Go modules (first time: minutes) ...")
    started = time.monotonic()
    done = subprocess.run(command, cwd=tool.module_dir, env=env)
    if done.returncode != 0:
        raise ToolchainError(
            f"`go build` of {tool.name} failed (exit {done.returncode}); see above"
        )
    partial.replace(target)
    log(f"built {tool.name} {tool.version} in {time.monotonic() - started:.0f} s: {target}")
    return target


def pulumi_on_path(bin_dir: Path) -> Path | None:
    """A ``pulumi`` of the pinned version on PATH outside ``bin_dir`` (an official install)."""
    wanted = f"v{pin('pulumi', 'cli')}"
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or Path(entry).resolve() == bin_dir.resolve():
            continue
        candidate = Path(entry) / "pulumi"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            try:
                out = subprocess.run(
                    [str(candidate), "version"], capture_output=True, text=True, timeout=30
                )
            except (OSError, subprocess.TimeoutExpired):
                continue
            if out.stdout.strip() == wanted:
                return candidate
    return None


def _place(target: Path, path: Path) -> None:
    """Put the binary ``target`` at ``path`` as a hard link (a copy across file systems).
    Not a symbolic link: the CLI looks for its plugins beside its own resolved path, and
    plugins found there are used quietly, where ones found on PATH draw a warning."""
    if path.exists() and not path.is_symlink() and path.samefile(target):
        return
    if path.is_symlink() or path.exists():
        path.unlink()
    try:
        os.link(target, path)
    except OSError:
        shutil.copy2(target, path)


def _write_script(path: Path, text: str) -> None:
    if path.is_file() and not path.is_symlink() and path.read_text() == text:
        return
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    path.chmod(0o755)


def plugin_scripts(python: Path) -> dict[str, str]:
    """The two Python plugins, as scripts running ``python`` (the virtualenv's)."""
    return {
        "pulumi-language-python": (
            f"#!/bin/sh\n# mlsite's Pulumi language host for Python programs.\n"
            f'exec "{python}" -u -m mlsite.engine.language_host "$@"\n'
        ),
        "pulumi-resource-pulumi-python": (
            f"#!/bin/sh\n# Serves Pulumi Python dynamic providers (mlsite.engine.dynamic_host).\n"
            f'exec "{python}" -u -m mlsite.engine.dynamic_host "$@"\n'
        ),
    }


def install(bin_dir: Path, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Put the whole toolchain into ``bin_dir``; returns what each name points to."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    installed: dict[str, Path] = {}
    tools = go_tools()
    official = pulumi_on_path(bin_dir)
    for name, tool in tools.items():
        if name == "pulumi" and official is not None:
            log(f"using the Pulumi CLI {tool.version} found at {official}")
            target = official
        else:
            target = build(tool, log)
        _place(target, bin_dir / name)
        installed[name] = target
    python = bin_dir / "python"
    for name, text in plugin_scripts(python if python.exists() else Path(sys.executable)).items():
        _write_script(bin_dir / name, text)
        installed[name] = bin_dir / name
    return installed


def main(argv: list[str]) -> int:
    """``install [BIN_DIR]`` (default: the running interpreter's directory)."""
    if not argv or argv[0] != "install" or len(argv) > 2:
        print("usage: python -m mlsite.engine.toolchain install [BIN_DIR]", file=sys.stderr)
        return 2
    bin_dir = Path(argv[1]) if len(argv) == 2 else Path(sys.executable).parent
    try:
        install(bin_dir.absolute())
    except (ToolchainError, subprocess.CalledProcessError) as exc:
        print(f"mlsite: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`mlsite lab`: bring lab hosts up and down, log in, and run fault drills."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from mlsite.lab.errors import LabError
from mlsite.lab.lab import Lab, LabStatus
from mlsite.lab.plan import DEBIAN_RELEASES, DEFAULT_DEBIAN, LabPlan, plan_lab
from mlsite.lab.ssh import ssh_args

app = typer.Typer(
    name="lab",
    help="Rehearse a site's hosts on this machine: systemd-nspawn lab hosts on a bridge, with fault drills.",
    no_args_is_help=True,
    add_completion=False,
)

HostArg = Annotated[str, typer.Argument(help="Name of a lab host, as in the site description.")]


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Print lab and site errors as one line and exit with code 2 (no traceback)."""
    from mlsite.spec import SiteError

    try:
        yield
    except LabError as exc:
        typer.echo(f"mlsite lab: error: {exc}", err=True)
        raise typer.Exit(2) from None
    except SiteError as exc:
        typer.echo(f"mlsite lab: error: {'; '.join(map(str, exc.diagnostics))}", err=True)
        raise typer.Exit(2) from None


def load_plan(stack: str, file: Path | None, debian: int = DEFAULT_DEBIAN) -> LabPlan:
    """The lab plan of a stack (or of a stack file given by path)."""
    from mlsite.spec import load_file, load_stack

    loaded = load_file(file) if file else load_stack(stack)
    return plan_lab(loaded.site, debian=debian)


@app.command()
def up(
    stack: Annotated[
        str, typer.Option(help="Stack whose hosts to bring up (stacks/Pulumi.<stack>.yaml).")
    ] = "lab",
    file: Annotated[
        Path | None,
        typer.Option(help="A stack file to use instead of --stack.", exists=True, dir_okay=False),
    ] = None,
    boot_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every host to be SSH-ready.")
    ] = 60,
    debian: Annotated[
        int,
        typer.Option(
            help="Debian release the hosts boot: "
            + ", ".join(f"{n} ({name})" for n, name in DEBIAN_RELEASES.items())
        ),
    ] = DEFAULT_DEBIAN,
) -> None:
    """Bring every host of the stack up, SSH-ready (idempotent: running hosts stay as they are)."""
    with _errors():
        plan = load_plan(stack, file, debian)
        lab = Lab()
        lab.up(plan, boot_timeout_s=boot_timeout)
        _print_status(lab.status())


@app.command()
def down(
    purge: Annotated[
        bool,
        typer.Option(
            help="Also delete the SSH key, apt cache and unpacked rootfs (the rootfs tarball stays)."
        ),
    ] = False,
) -> None:
    """Remove every host, namespace, link, process, mount and loop device of the lab."""
    with _errors():
        removed = Lab().down(purge=purge)
        typer.echo(
            f"lab down: removed {len(removed)} object(s)"
            + (f": {', '.join(removed)}" if removed else "")
        )


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show the lab's hosts (running, link, disks), partitions, apt proxy and fence daemon."""
    with _errors():
        current = Lab().status()
        if as_json:
            data = asdict(current)
            data["state_dir"] = str(current.state_dir)
            typer.echo(json.dumps(data, indent=2))
        else:
            _print_status(current)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh(
    host: HostArg,
    command: Annotated[
        list[str] | None, typer.Argument(help="Command to run on the host (after --).")
    ] = None,
) -> None:
    """Log in to a lab host with the lab's key, or run a command there: `lab ssh lab-1 -- uptime`."""
    with _errors():
        lab = Lab()
        args = ssh_args(lab.dirs, lab.plan().host(host), batch=bool(command))
        os.execvp(args[0], [*args, *(["--", *command] if command else [])])


@app.command()
def crash(host: HostArg) -> None:
    """Hard power-off: kill every process of the host and take its link down."""
    with _errors():
        Lab().crash(host)
        typer.echo(f"{host}: powered off")


@app.command()
def start(
    host: HostArg,
    boot_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the host to be SSH-ready.")
    ] = 60,
) -> None:
    """Power a crashed host on again; its files are as the crash left them."""
    with _errors():
        Lab().start(host, boot_timeout_s=boot_timeout)
        typer.echo(f"{host}: powered on, SSH-ready")


@app.command()
def cut(host: HostArg) -> None:
    """Pull the host's network cable (link down) until `lab heal`."""
    with _errors():
        Lab().cut(host)
        typer.echo(f"{host}: link cut")


@app.command()
def partition(
    a: Annotated[str, typer.Argument(help="One side of the partition (a lab host).")],
    b: Annotated[str, typer.Argument(help="The other side (a lab host).")],
) -> None:
    """Stop all traffic between two hosts; both still reach every other host."""
    with _errors():
        Lab().partition(a, b)
        typer.echo(f"{a} <-/-> {b}: partitioned")


@app.command()
def heal(
    host: Annotated[
        str | None,
        typer.Argument(help="Host whose cut and partitions to undo. Default: heal everything."),
    ] = None,
) -> None:
    """Undo `cut` and `partition` for one host, or for the whole lab."""
    with _errors():
        Lab().heal(host)
        typer.echo(f"{host or 'lab'}: healed")


def _print_status(current: LabStatus) -> None:
    if not current.hosts:
        typer.echo(f"no lab is up (state dir {current.state_dir})")
        return
    typer.echo(
        f"lab {current.site!r} on {current.network}, Debian {current.debian}, "
        f"state dir {current.state_dir}"
    )
    typer.echo(
        f"  apt proxy: {'running' if current.proxy_running else 'stopped'}; "
        f"fence daemon: {'running' if current.fence_running else 'stopped'}"
    )
    for h in current.hosts:
        power = f"running (pid {h.pid})" if h.running else "off"
        disks = ", ".join(f"{path} -> {dev or '?'}" for path, dev in h.disks.items())
        typer.echo(
            f"  {h.name:<12} {h.address:<15} {power:<22} link {h.link}"
            + (f"  disks: {disks}" if disks else "")
        )
    for a, b in current.partitions:
        typer.echo(f"  partition: {a} <-/-> {b}")

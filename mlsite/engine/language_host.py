"""mlsite's Pulumi language host for Python programs (the ``pulumi-language-python`` plugin).

The Pulumi CLI starts a language host for the project's runtime, reads the port it listens
on from its first line of output, and asks it over gRPC to run the program against the
engine's resource monitor. Pulumi's own Python host is a Go program that is neither on
PyPI nor served as a Go module here, so mlsite brings this one: it runs the program
(``__main__.py`` of the project, or the ``main`` the project names) in this process with
the Python SDK's runtime, the way the SDK's Automation API runs inline programs.

What it leaves out on purpose: it reports no required plugins, so the engine loads each
provider when the program first uses it (and never downloads one; see
``mlsite.engine.run``), and it installs no dependencies (``make setup`` does).
"""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from mlsite.versions import pin

MAX_MESSAGE = 400 * 1024 * 1024
"""Largest gRPC message either way: a big site's config arrives in one Run request."""


def entry_point(request: Any) -> Path:
    """The program file a Run request asks for: ``info`` names it in current engines,
    ``pwd`` + ``program`` in older ones; a directory means its ``__main__.py``."""
    info = request.info
    if info.program_directory:
        path = Path(info.program_directory) / (info.entry_point or ".")
    else:
        path = Path(request.pwd or os.getcwd()) / (request.program or ".")
    return path / "__main__.py" if path.is_dir() else path


class LanguageHost(LanguageServer):
    """Runs the project's program for the engine at ``engine_address``."""

    def __init__(self, engine_address: str) -> None:
        super().__init__(program=self._run_program)
        self.engine_address = engine_address
        self._entry: Path | None = None

    def _run_program(self) -> None:
        entry = self._entry
        if entry is None or not entry.is_file():
            raise FileNotFoundError(f"the Pulumi program {entry} does not exist")
        program_dir = str(entry.parent)
        os.chdir(program_dir)
        if program_dir not in sys.path:
            sys.path.insert(0, program_dir)
        runpy.run_path(str(entry), run_name="__main__")

    def Handshake(self, request: Any, context: Any) -> Any:
        if request.engine_address:
            self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def Run(self, request: Any, context: Any) -> Any:
        self._entry = entry_point(request)
        # The SDK's server takes the engine's address from the request's first argument
        # (where Automation API puts it); a real engine gives it on our command line.
        forwarded = language_pb2.RunRequest()
        forwarded.CopyFrom(request)
        del forwarded.args[:]
        forwarded.args.append(self.engine_address)
        return super().Run(forwarded, context)  # type: ignore[no-untyped-call]

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=pin("pulumi", "cli"))

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        return language_pb2.GetProgramDependenciesResponse()

    def InstallDependencies(self, request: Any, context: Any) -> Any:
        # Streams nothing: the virtualenv is made by `make setup`, not by the engine.
        return iter(())


def serve(engine_address: str) -> None:
    """Listen on a free loopback port, print it (the engine reads it), serve until killed."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.max_receive_message_length", MAX_MESSAGE),
        ],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageHost(engine_address), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    server.wait_for_termination()


def main(argv: list[str]) -> int:
    """Arguments as the engine passes them: flags (ignored), then the engine's address."""
    positional = [a for a in argv if not a.startswith("-")]
    # The engine stops its plugins with SIGINT/SIGTERM when a run ends: that is a normal exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        serve(positional[0] if positional else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

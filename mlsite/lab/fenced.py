"""The lab fence daemon: lets a fence agent inside a lab host power other lab hosts off and on.

`lab up` starts it on the bridge address. Requests are JSON over HTTP, authenticated with the
token in the state dir (lab hosts get a copy): POST / {"action": "off", "plug": "node-2"}.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlsite.lab.errors import LabError
from mlsite.lab.lab import Lab
from mlsite.lab.paths import LabDirs

log = logging.getLogger("mlsite.lab.fenced")


def fence(lab: Lab, action: str, plug: str) -> tuple[int, dict[str, object]]:
    """Carry out one fence action; return an HTTP status and a JSON body."""
    if action == "list":
        return 200, {"hosts": [h.name for h in lab.plan().hosts]}
    if action not in ("on", "off", "reboot", "status"):
        return 400, {"error": f"unknown action {action!r}"}
    lab.plan().host(plug)  # a LabError for unknown hosts
    if action in ("off", "reboot"):
        lab.crash(plug)
    if action in ("on", "reboot"):
        lab.start(plug)
    running = {h.name: h.running for h in lab.status().hosts}
    return 200, {"plug": plug, "power": "on" if running.get(plug) else "off"}


def make_handler(lab: Lab, token: str) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to one lab and its token."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            offered = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(offered.encode(), token.encode()):
                self._reply(403, {"error": "bad token"})
                return
            request: object = {}
            try:
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(request, dict):
                    raise ValueError("expected a JSON object")
                status, body = fence(
                    lab, str(request.get("action", "")), str(request.get("plug", ""))
                )
            except LabError as exc:
                status, body = 404, {"error": str(exc)}
            except ValueError as exc:
                status, body = 400, {"error": f"bad request: {exc}"}
            log.info("%s %s -> %s %s", self.client_address[0], request, status, body)
            self._reply(status, body)

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Run the fence daemon until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    dirs = LabDirs.from_env(args.state_dir)
    lab = Lab(dirs)
    token = dirs.fence_token.read_text().strip()
    server = ThreadingHTTPServer((args.listen, args.port), make_handler(lab, token))
    log.info("fence daemon for %s on %s:%s", dirs.state, args.listen, args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()

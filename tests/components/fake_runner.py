"""A stand-in for ``python -m mlsite.hosts.runner`` (same JSON contract) for provider contract tests
where no lab is available. Each host's "configuration" is a file in $FAKE_RUNNER_STATE;
every request is appended to requests.jsonl there (tests check what reached the runner).
$FAKE_RUNNER_NOTICES (JSON, host -> sentences) is what hosts report."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    started = time.monotonic()
    state = Path(os.environ["FAKE_RUNNER_STATE"])
    text = sys.stdin.read()
    with (state / "requests.jsonl").open("a") as log:
        log.write(text.strip() + "\n")
    pause = state / "pause-s"  # a slow host: the run takes this long (an apply to cut short)
    if pause.exists():
        time.sleep(float(pause.read_text()))
    req = json.loads(text)
    with (state / "keys.jsonl").open("a") as log:
        for h in req.get("hosts", []):
            key = h.get("key_file")
            mode = oct(os.stat(key).st_mode & 0o777) if key and os.path.exists(key) else None
            head = Path(key).read_text()[:20] if mode else None
            log.write(
                json.dumps({"host": h["name"], "key_file": key, "mode": mode, "head": head}) + "\n"
            )
    if req.get("mode") not in ("apply", "dry-run") or not req.get("hosts"):
        print(json.dumps({"ok": False, "error": "bad request"}))
        return 2
    want = hashlib.sha256(
        json.dumps([req["role"], req["params"]], sort_keys=True).encode()
    ).hexdigest()
    hosts = {}
    for h in req["hosts"]:
        f = state / f"{h['name']}.{req['role']}"
        if h["name"] == "broken":
            hosts[h["name"]] = {"changed": 0, "operations": [], "errors": ["cannot connect"]}
            continue
        differs = not f.exists() or f.read_text() != want
        if differs and req["mode"] == "apply":
            f.write_text(want)
        op = {"name": f"Configure {req['role']}", "changed": differs}
        hosts[h["name"]] = {"changed": int(differs), "operations": [op], "errors": []}
        said = json.loads(os.environ.get("FAKE_RUNNER_NOTICES", "{}")).get(h["name"])
        if said:
            hosts[h["name"]]["notices"] = said
    ok = all(not h["errors"] for h in hosts.values())
    result = {
        "ok": ok,
        "role": req["role"],
        "mode": req["mode"],
        "elapsed_s": time.monotonic() - started,
        "hosts": hosts,
    }
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

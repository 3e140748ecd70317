#!/usr/bin/python3
"""fence_mlsite_lab: fence agent for mlsite lab hosts (installed in every lab host).

Powers a lab host off or on through the lab's fence daemon on the lab bridge. Options come
as `key=value` lines on stdin (how pacemaker's fencer calls agents) or on the command line
(`-o off -n node-2`, `--action=off --plug=node-2`). The daemon address and token default to
/etc/mlsite-lab/fence.conf, written by the lab.

Exit codes follow fence-agents: 0 success (for status: on), 1 failure, 2 status: off.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

CONF = "/etc/mlsite-lab/fence.conf"
ACTIONS = (
    "on",
    "off",
    "reboot",
    "status",
    "monitor",
    "list",
    "list-status",
    "metadata",
    "validate-all",
)
ALIASES = {
    "o": "action",
    "n": "plug",
    "port": "plug",
    "a": "ipaddr",
    "ip": "ipaddr",
    "p": "password",
    "token": "password",
}

METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_mlsite_lab" shortdesc="Fence agent for mlsite lab hosts">
<longdesc>fence_mlsite_lab powers an mlsite lab host (a systemd-nspawn machine) off or on through the lab's fence daemon. Powering off is a hard power cut: the host's link goes down and every process dies.</longdesc>
<vendor-url>https://github.com/mlsite</vendor-url>
<parameters>
\t<parameter name="action" unique="0" required="1">
\t\t<getopt mixed="-o, --action=[action]" />
\t\t<content type="string" default="reboot" />
\t\t<shortdesc lang="en">Fencing action</shortdesc>
\t</parameter>
\t<parameter name="plug" unique="0" required="1" obsoletes="port">
\t\t<getopt mixed="-n, --plug=[name]" />
\t\t<content type="string" />
\t\t<shortdesc lang="en">Lab host name to fence</shortdesc>
\t</parameter>
\t<parameter name="port" unique="0" required="0" deprecated="1">
\t\t<getopt mixed="-n, --plug=[name]" />
\t\t<content type="string" />
\t\t<shortdesc lang="en">Lab host name to fence</shortdesc>
\t</parameter>
\t<parameter name="ipaddr" unique="0" required="0">
\t\t<getopt mixed="-a, --ip=[url]" />
\t\t<content type="string" />
\t\t<shortdesc lang="en">Fence daemon URL (default: from /etc/mlsite-lab/fence.conf)</shortdesc>
\t</parameter>
\t<parameter name="password" unique="0" required="0">
\t\t<getopt mixed="-p, --password=[token]" />
\t\t<content type="string" />
\t\t<shortdesc lang="en">Fence daemon token (default: from /etc/mlsite-lab/fence.conf)</shortdesc>
\t</parameter>
\t<parameter name="nodename" unique="0" required="0">
\t\t<getopt mixed="--nodename=[name]" />
\t\t<content type="string" />
\t\t<shortdesc lang="en">Node being fenced (used when plug is not given)</shortdesc>
\t</parameter>
</parameters>
<actions>
\t<action name="on" automatic="0"/>
\t<action name="off" />
\t<action name="reboot" />
\t<action name="status" />
\t<action name="list" />
\t<action name="list-status" />
\t<action name="monitor" />
\t<action name="metadata" />
\t<action name="validate-all" />
</actions>
</resource-agent>
"""


def parse_options(argv: list[str], stdin_text: str) -> dict[str, str]:
    """Options from stdin `key=value` lines, overridden by command-line options."""
    options: dict[str, str] = {}
    for line in stdin_text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            options[ALIASES.get(key.strip(), key.strip())] = value.strip()
    args = iter(argv)
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            key, _, value = arg[2:].partition("=")
        elif arg.startswith("-"):
            key = arg.lstrip("-")
            value = next(args, "")
        else:
            continue
        options[ALIASES.get(key, key)] = value
    return options


def read_conf(path: str = CONF) -> dict[str, str]:
    """The daemon URL and token the lab wrote into this host."""
    conf: dict[str, str] = {}
    try:
        with open(path) as handle:
            for line in handle:
                key, _, value = line.strip().partition("=")
                if key:
                    conf[key] = value
    except OSError:
        pass  # options may carry ipaddr and password instead; checked where they are needed
    return conf


def call(url: str, token: str, action: str, plug: str) -> dict[str, object]:
    """Send one request to the fence daemon."""
    body = json.dumps({"action": action, "plug": plug}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            result: dict[str, object] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(json.loads(exc.read() or b"{}").get("error", str(exc))) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(f"fence daemon at {url} unreachable: {exc}") from exc
    return result


def main(argv: list[str], stdin_text: str) -> int:
    """Run the agent; return its exit code."""
    options = parse_options(argv, stdin_text)
    action = options.get("action", "reboot")
    if action == "metadata":
        sys.stdout.write(METADATA)
        return 0
    if action not in ACTIONS:
        print(f"Failed: unknown action {action!r}", file=sys.stderr)
        return 1
    conf = read_conf()
    url = options.get("ipaddr") or conf.get("url", "")
    token = options.get("password") or conf.get("token", "")
    if not url or not token:
        print(
            f"Failed: no fence daemon URL/token (options ipaddr/password or {CONF})",
            file=sys.stderr,
        )
        return 1
    plug = options.get("plug") or options.get("nodename", "")
    try:
        if action in ("list", "list-status", "monitor"):
            hosts = call(url, token, "list", "").get("hosts")
            if action != "monitor":
                for name in hosts if isinstance(hosts, list) else []:
                    print(f"{name},")
            return 0
        if action == "validate-all":
            return 0 if plug else 1
        if not plug:
            print("Failed: no plug (lab host name) given", file=sys.stderr)
            return 1
        result = call(url, token, action, plug)
    except RuntimeError as exc:
        print(f"Failed: {exc}", file=sys.stderr)
        return 1
    power = result.get("power")
    if action == "status":
        print(f"Status: {str(power).upper()}")
        return 0 if power == "on" else 2
    wanted = "off" if action == "off" else "on"
    if power != wanted:
        print(f"Failed: {plug} is {power} after {action}", file=sys.stderr)
        return 1
    print(
        f"Success: {plug} powered {wanted.upper()}"
        if action != "reboot"
        else f"Success: Rebooted {plug}"
    )
    return 0


if __name__ == "__main__":
    # Like fence-agents: options on the command line, or else key=value lines on stdin.
    from_stdin = len(sys.argv) == 1 and sys.stdin is not None and not sys.stdin.isatty()
    stdin_text = sys.stdin.read() if from_stdin else ""
    sys.exit(main(sys.argv[1:], stdin_text))

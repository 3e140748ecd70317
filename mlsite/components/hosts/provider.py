"""``HostDeployProvider``: the dynamic provider that applies one role to a host group.

The Pulumi engine pickles this provider object into the state (``__provider``) and
unpickles it in its provider process. So it holds no credentials and no large modules:
it imports only the standard library, ``pulumi.dynamic`` and mlsite's pure modules (the
runner contract, ``mlsite.review``), and the pickle is a
reference to this class plus a timeout. SSH credentials are read at apply time from the
stack config (``configure``) or come from the SSH agent.

Inputs (all readable desired state, see ``mlsite.components.hosts.inputs``): ``role``, ``group``,
``hosts``, ``params`` (secrets replaced by references), ``secrets`` (the referenced
values; a Pulumi secret), ``files`` (content hashes) and ``code`` (hash of the deploy
code). Outputs copy the inputs and add ``changed``, ``results``, ``drift`` and ``notices``
(what the deploy left alone and reports, by host).
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from mlsite.hosts.contract import SECRET_REF, Mode, RunResult, Target, call_runner
from mlsite.review.keyed import field_changes
from mlsite.review.losses import losses

INPUT_KEYS = ("role", "group", "hosts", "params", "secrets", "files", "code")
"""The desired-state inputs; a change to any of them is an update."""
REPLACE_KEYS = ("role",)
"""A different role is a different resource."""
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How the engine passes a value not known until apply (``pulumi.runtime.rpc.UNKNOWN``)."""


def is_unknown(value: Any) -> bool:
    """A value a preview cannot know yet: the unknown sentinel, or an output value (the
    engine sends those, and the SDK turns them into ``Output`` objects). Such inputs are
    checked at ``up``, once they are known."""
    if value is None:
        return False
    return value == UNKNOWN or not isinstance(value, str | int | float | bool | list | dict)


CONFIG_KEY_FILE = "mlsite:sshKeyFile"
"""Stack config: path of the SSH private key for hosts that name none."""
CONFIG_PRIVATE_KEY = "mlsite:sshPrivateKey"
"""Stack config (a secret): the SSH private key itself, written to a 0600 file at apply."""


class HostDeployProvider(ResourceProvider):
    """Applies one deploy to a group of hosts through the host runner."""

    serialize_as_secret_always = False  # the pickle holds no secret: readable in state

    def __init__(self, timeout_s: float = 3600.0) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self._key_file: str | None = None
        self._private_key: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Credentials set by configure() never reach a pickle, whoever pickles us.
        return {"timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.timeout_s = float(state["timeout_s"])
        self._key_file = None
        self._private_key = None

    # -- engine calls -----------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        """Read SSH credentials from the stack config (none: the SSH agent is used)."""
        key_file = req.config.get(CONFIG_KEY_FILE)
        private_key = req.config.get(CONFIG_PRIVATE_KEY)
        self._key_file = str(key_file) if key_file else None
        self._private_key = str(private_key) if private_key else None

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Refuse malformed inputs before anything runs (pure)."""
        return CheckResult(news, check_inputs(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare desired state with the last applied state (pure: touches no host).
        Drift recorded by the last refresh counts as a change, so ``up`` repairs it.

        The result also says which property paths change, list items matched by identity
        (an OSD by its disk, a pool by its name), and what data the update puts at risk:
        ``mlsite.engine.dynamic_host`` hands both to the engine, so ``pulumi preview
        --diff`` shows what ``mlsite diff`` shows."""
        changed = [k for k in INPUT_KEYS if olds.get(k) != news.get(k)]
        replaces = [k for k in REPLACE_KEYS if k in changed]
        drifted = any((olds.get("drift") or {}).values())
        return ReviewedDiff(
            changes=bool(changed) or drifted,
            replaces=replaces,
            stables=[],
            delete_before_replace=False,
            detailed=detailed_diff(olds, news, changed, drifted),
            losses=losses_of(olds, news),
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Apply the role to the group's hosts."""
        outs = self._run("apply", props)
        return CreateResult(f"{props['role']}/{props['group']}", outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Apply the new desired state."""
        return UpdateResult(self._run("apply", news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Dry-run the role and record what would change as ``drift`` (refresh)."""
        if not props:  # `pulumi import`/`get` without prior state: nothing to compare with
            return ReadResult(id_, {})
        return ReadResult(id_, self._run("dry-run", props))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Forget the resource; hosts are left as they are (un-configuring is a deploy)."""

    # -- helpers ------------------------------------------------------------------------

    def _run(self, mode: Mode, props: dict[str, Any]) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="mlsite-ssh-") as tmp:
            request = {
                "mode": mode,
                "role": props["role"],
                "hosts": [self._host(h, Path(tmp)) for h in props["hosts"]],
                "params": resolve_secrets(props["params"], props.get("secrets") or {}),
            }
            result = call_runner(request, self.timeout_s)
        return outputs(props, mode, result)

    def _host(self, host: dict[str, Any], tmp: Path) -> dict[str, Any]:
        target = Target.parse(host, host.get("name", "host"))
        if not target.key_file and self._key_file:
            target = replace(target, key_file=self._key_file)
        key = target.key_path()  # relative paths are relative to the stack files
        if key is None and self._private_key:
            key = tmp / "id"
            key.write_text(self._private_key.rstrip("\n") + "\n")
            key.chmod(stat.S_IRUSR | stat.S_IWUSR)
        # the runner gets the resolved key (None: the SSH agent's keys)
        return replace(target, key_file=str(key) if key else None).to_json()


class ReviewedDiff(DiffResult):
    """A ``DiffResult`` that also names the changed property paths and the data at risk."""

    def __init__(self, *, detailed: dict[str, str], losses: list[str], **result: Any) -> None:
        super().__init__(**result)
        self.detailed = detailed
        """Engine property path -> ``add``, ``delete`` or ``update`` (``-replace`` appended
        where the change replaces the resource)."""
        self.losses = losses
        """Sentences naming the data the update puts at risk (``mlsite.review.losses``)."""


def detailed_diff(
    olds: dict[str, Any], news: dict[str, Any], changed: list[str], drifted: bool
) -> dict[str, str]:
    """What changes, by the engine's property paths, list items matched by identity: an OSD
    removed from the middle of the list is one ``delete``, not every later OSD updated.
    Secrets are named, never walked."""
    found: dict[str, str] = {}
    for key in changed:
        suffix = "-replace" if key in REPLACE_KEYS else ""
        if key == "secrets" or is_unknown(news.get(key)):
            found[key] = "update" + suffix
            continue
        for f in field_changes(olds.get(key), news.get(key), key):
            how = "add" if f.item == "added" or f.old is None else "update"
            how = "delete" if f.item == "removed" or f.new is None else how
            found[f.at] = how + suffix
    if drifted and not found:
        found["drift"] = "update"  # the hosts drifted from the applied state: re-applied
    return found


def losses_of(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """The data an update of the same deploy puts at risk inside the resource."""
    role = news.get("role")
    if not isinstance(role, str) or role != olds.get("role") or is_unknown(news.get("params")):
        return []
    return losses(role, olds.get("params"), news.get("params"))


def check_inputs(news: dict[str, Any]) -> list[CheckFailure]:
    """Shape checks of HostDeploy inputs (pure)."""
    failures: list[CheckFailure] = []
    if not isinstance(news.get("role"), str) or not news["role"]:
        failures.append(CheckFailure("role", "a role name is required"))
    hosts = news.get("hosts")
    if is_unknown(hosts):
        pass
    elif not isinstance(hosts, list) or not hosts:
        failures.append(CheckFailure("hosts", "at least one host is required"))
    else:
        for i, h in enumerate(hosts):
            if is_unknown(h):
                continue
            if not isinstance(h, dict) or not h.get("name") or not h.get("address"):
                failures.append(
                    CheckFailure(f"hosts[{i}]", "each host needs a name and an address")
                )
    params = news.get("params", {})
    if not is_unknown(params) and not isinstance(params, dict):
        failures.append(CheckFailure("params", "params must be a mapping"))
    return failures


def resolve_secrets(value: Any, secrets: dict[str, Any]) -> Any:
    """Replace secret references in ``params`` for the runner's request (apply time only;
    the runner takes secrets in plain text on stdin): ``env:NAME`` is read from the
    environment, ``value:PATH`` is the plain value held in the ``secrets`` input."""
    if isinstance(value, dict):
        ref = value.get(SECRET_REF)
        if isinstance(ref, str) and len(value) == 1:
            kind, _, what = ref.partition(":")
            if kind == "env":
                if what not in os.environ:
                    raise LookupError(f"environment variable {what} (a secret) is not set")
                return os.environ[what]
            if what not in secrets:
                raise KeyError(f"secret reference {ref!r} has no value in the `secrets` input")
            return secrets[what]
        return {k: resolve_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, secrets) for v in value]
    return value


def outputs(props: dict[str, Any], mode: Mode, result: RunResult) -> dict[str, Any]:
    """Inputs copied (Python dynamic providers diff against old outputs) plus results."""
    outs = {k: props[k] for k in INPUT_KEYS if k in props}
    per_host = {
        name: {"changed": h.changed, "errors": list(h.errors)} for name, h in result.hosts.items()
    }
    # what the deploy left alone and reports, as of this run (apply or refresh)
    outs["notices"] = {name: list(h.notices) for name, h in result.hosts.items() if h.notices}
    would_change = {
        name: sorted(o.name for o in h.operations if o.changed) for name, h in result.hosts.items()
    }
    if mode == "apply":
        outs["changed"] = sum(h.changed for h in result.hosts.values())
        outs["results"] = per_host
        outs["drift"] = {name: [] for name in result.hosts}
    else:
        outs["changed"] = props.get("changed", 0)
        outs["results"] = props.get("results", per_host)
        outs["drift"] = would_change
    return outs

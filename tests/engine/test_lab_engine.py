"""The lab stack through the real engine on real lab hosts: ``pulumi up`` converges, a
hand-made change is found by ``refresh`` and repaired by ``up``, ``destroy`` refuses while
protected resources exist, and a canary secret shows in clear text nowhere."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LabSession
from tests.engine.conftest import EngineProject
from tests.engine.test_preview import LAB_SECRETS

pytestmark = pytest.mark.lab

CANARY = "canary-3f1d7be2c0a94d8e"
"""Put into the lab stack as a `secure:` value (the registry push user's password)."""
CANARY_PATH = "mlsite:site.registry.users[0].password"
SYSCTL_FILE = "/etc/sysctl.d/90-mlsite.conf"


@dataclass
class LabSite:
    project: EngineProject
    lab: LabSession
    up_output: str
    up_s: float

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.project.pulumi(*args, "--stack", "lab", check=check)


def fresh_hosts(lab: LabSession) -> None:
    """Hosts as booted, no role applied: earlier tests of the session applied roles."""
    lab.lab.down()
    lab.lab.up(lab.plan)


@pytest.fixture(scope="module")
def lab_site(lab: LabSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSite]:
    fresh_hosts(lab)
    project = EngineProject.copy(tmp_path_factory.mktemp("engine-lab"))
    project.env.update(LAB_SECRETS)
    project.env["MLSITE_SSH_KEY"] = str(lab.ssh_key)
    project.stack("lab")
    project.pulumi("config", "set", "--stack", "lab", "--secret", "--path", CANARY_PATH, CANARY)
    started = time.monotonic()
    up = project.pulumi("up", "--stack", "lab", "--yes", "--skip-preview", "--non-interactive")
    try:
        yield LabSite(project, lab, up.stdout + up.stderr, time.monotonic() - started)
    finally:
        fresh_hosts(lab)  # later tests expect hosts with nothing applied


def test_up_converges_and_a_preview_right_after_expects_no_changes(lab_site: LabSite) -> None:
    assert "error" not in lab_site.up_output.lower().replace("errors: 0", ""), lab_site.up_output
    done = lab_site.pulumi("preview", "--expect-no-changes", "--non-interactive", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # the roles really ran: the registry answers with the site CA, the hosts have their
    # sysctl file
    assert lab_site.lab.run("lab-1", f"test -s {SYSCTL_FILE}").returncode == 0
    ca = lab_site.lab.run("lab-3", "ls /usr/local/share/ca-certificates/").stdout
    assert ca.strip(), "the site CA is not installed on lab-3"
    # no host is left degraded: nothing the lab cannot have is left failed
    for host in ("lab-1", "lab-2", "lab-3"):
        failed = lab_site.lab.run(host, "systemctl --failed --no-legend --plain").stdout
        assert not failed.strip(), f"{host}: {failed}"


def resource_outputs(site: LabSite, name: str) -> dict[str, object]:
    export = json.loads(site.pulumi("stack", "export").stdout)
    for resource in export["deployment"]["resources"]:
        if resource["urn"].endswith(f"::{name}"):
            outputs: dict[str, object] = resource.get("outputs", {})
            return outputs
    raise AssertionError(f"no resource {name} in the state")


def test_refresh_finds_a_hand_made_change_and_up_repairs_it(lab_site: LabSite) -> None:
    lab = lab_site.lab
    original = lab.run("lab-2", f"cat {SYSCTL_FILE}").stdout
    lab.run("lab-2", f"echo 'vm.swappiness = 77' >> {SYSCTL_FILE}")
    lab_site.pulumi("refresh", "--yes", "--skip-preview", "--non-interactive")
    drift = resource_outputs(lab_site, "lab-hosts-base")["drift"]
    assert isinstance(drift, dict)
    assert drift["lab-2"], drift  # the change is reported on that host ...
    assert not drift["lab-1"] and not drift["lab-3"], drift  # ... and only there
    preview = json.loads(lab_site.pulumi("preview", "--json", "--non-interactive").stdout)
    changing = {s["urn"].rsplit("::", 1)[1]: s["op"] for s in preview["steps"] if s["op"] != "same"}
    assert changing == {"lab-hosts-base": "update"}, changing
    lab_site.pulumi("up", "--yes", "--skip-preview", "--non-interactive")
    assert lab.run("lab-2", f"cat {SYSCTL_FILE}").stdout == original
    again = lab_site.pulumi("preview", "--expect-no-changes", "--non-interactive", check=False)
    assert again.returncode == 0, again.stdout + again.stderr


def test_destroy_refuses_while_protected_resources_exist_and_names_them(
    lab_site: LabSite,
) -> None:
    before = json.loads(lab_site.pulumi("stack", "export").stdout)
    done = lab_site.pulumi("destroy", "--yes", "--skip-preview", "--non-interactive", check=False)
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert "protect" in text.lower()
    protected = [
        r["urn"].rsplit("::", 1)[1] for r in before["deployment"]["resources"] if r.get("protect")
    ]
    assert "lab-ca" in protected and "lab-ceph-hosts" in protected, protected
    assert any(name in text for name in protected), text
    after = json.loads(lab_site.pulumi("stack", "export").stdout)
    assert {r["urn"] for r in after["deployment"]["resources"] if r.get("protect")} == {
        r["urn"] for r in before["deployment"]["resources"] if r.get("protect")
    }


def test_a_canary_secret_shows_in_clear_text_nowhere(lab_site: LabSite, tmp_path: Path) -> None:
    site, lab = lab_site, lab_site.lab
    seen: dict[str, str] = {"up output": site.up_output}
    seen["stack export"] = site.pulumi("stack", "export").stdout
    verbose = site.pulumi("preview", "--diff", "--non-interactive", "--logtostderr", "-v=9")
    seen["verbose preview"] = verbose.stdout + verbose.stderr
    plan_file = tmp_path / "plan.json"
    plan = site.project.mlsite("plan", "--stack", "lab", "--json", str(plan_file))
    assert plan.returncode == 0, plan.stderr
    seen["plan"] = plan.stdout + plan_file.read_text()
    base_plan = tmp_path / "base.json"
    base = json.loads(plan_file.read_text())
    for r in base["resources"]:
        r["inputs"].pop("code", None)
    base_plan.write_text(json.dumps(base))
    diff = site.project.mlsite("diff", str(base_plan), str(plan_file))
    seen["diff"] = diff.stdout + diff.stderr
    assert "No changes" not in diff.stdout, diff.stdout  # a diff with fields to leak into
    for path in Path(site.project.env["PULUMI_BACKEND_URL"].removeprefix("file://")).rglob("*"):
        if path.is_file():
            seen[f"state file {path.name}"] = path.read_text(errors="replace")
    for path in (site.project.root / "stacks").iterdir():
        seen[f"stack file {path.name}"] = path.read_text()
    for host in ("lab-1", "lab-2", "lab-3"):
        found = lab.run(
            host,
            f"grep -rl {CANARY} /var/log /etc /root /tmp 2>/dev/null; "
            f"journalctl --no-pager | grep -c {CANARY}",
            check=False,
        )
        seen[f"{host} logs and files"] = found.stdout
        assert found.stdout.strip() == "0", f"{host}: the canary is in {found.stdout}"
    leaks = [where for where, text in seen.items() if CANARY in text and "logs" not in where]
    assert not leaks, f"the canary is in clear text in: {leaks}"
    # and it really was used: the registry takes it as the push user's password
    login = lab.run(
        "lab-3",
        f"curl -sk -o /dev/null -w '%{{http_code}}' -u ci:{CANARY} https://localhost:5000/v2/",
        check=False,
    )
    assert login.stdout == "200", login.stdout

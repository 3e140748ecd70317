"""The registry role for real, on lab-3 through the host runner: TLS verified against the
site CA, auth refusals, push from this machine with buildah, pull from lab-1 with skopeo,
garbage collection keeping the other image, and a re-apply that changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlsite import pki
from mlsite.hosts.runner import run
from tests.conftest import LabSession
from tests.registry.labrun import registry_request

pytestmark = pytest.mark.lab

PUSH_ENV, PULL_ENV = "MLSITE_LAB_REGISTRY_PUSH_PASSWORD", "MLSITE_LAB_REGISTRY_PULL_PASSWORD"
REGISTRY = "10.77.0.13"
PULL, PUSH = 5000, 5001
"""Ports: the read-only instance (every user) and the read-write one (push users)."""


@dataclass(frozen=True)
class Applied:
    """The registry as applied for this module."""

    ca_file: Path
    cert_dir: Path
    push: str
    pull: str
    first: dict[str, Any]
    request: dict[str, Any]


def _buildah(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    store = ["--root", str(tmp / "root"), "--runroot", str(tmp / "run"), "--storage-driver", "vfs"]
    return subprocess.run(["buildah", *store, *args], capture_output=True, text=True, check=False)


def _curl(ca: Path, *args: str) -> str:
    proc = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(ca), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def applied(lab: LabSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    tmp = tmp_path_factory.mktemp("registry")
    planned = lab.host("lab-3")
    setup = registry_request(
        str(planned.address), planned.ssh_port, planned.ssh_user, str(lab.ssh_key)
    )
    push, pull, cert, request = setup.push, setup.pull, setup.ca_cert_pem, setup.request
    first = run(request, timeout_s=600)
    ca_file = tmp / "ca.crt"
    ca_file.write_text(cert)
    cert_dir = tmp / "certs"
    cert_dir.mkdir()
    (cert_dir / "ca.crt").write_text(cert)
    yield Applied(ca_file, cert_dir, push, pull, first, request)


def test_first_apply_converges_and_passes_the_health_check(
    applied: Applied, lab: LabSession
) -> None:
    assert applied.first["ok"], json.dumps(applied.first, indent=1)
    # pyinfra names operations "<deploy> | <operation>"
    ops = {o["name"].split(" | ", 1)[-1] for o in applied.first["hosts"]["lab-3"]["operations"]}
    assert "Check every registry instance answers over TLS" in ops
    units = lab.run(
        "lab-3",
        "systemctl is-active mlsite-registry@push mlsite-registry@pull "
        "mlsite-registry-gc.timer; systemctl is-active docker-registry || true",
    )
    assert units.stdout.split()[:3] == ["active"] * 3
    assert units.stdout.split()[3] != "active"  # the package's unauthenticated unit stays off
    secrets = (applied.push, applied.pull)
    assert not any(s in json.dumps(applied.first) for s in secrets)


def test_tls_verifies_against_the_site_ca_only(applied: Applied, tmp_path: Path) -> None:
    assert _curl(applied.ca_file, f"https://{REGISTRY}:{PULL}/v2/") == "401"
    other = tmp_path / "other.crt"
    other.write_text(pki.ca_certificate(pki.new_ca_key(), "another CA"))
    assert _curl(other, f"https://{REGISTRY}:{PULL}/v2/") == "000"  # TLS verification fails


def test_anonymous_and_wrong_password_are_refused(applied: Applied) -> None:
    upload = f"https://{REGISTRY}:{PUSH}/v2/smoke/blobs/uploads/"
    assert _curl(applied.ca_file, "-X", "POST", upload) == "401"
    assert _curl(applied.ca_file, "-X", "POST", "-u", "ci:wrong", upload) == "401"
    assert _curl(applied.ca_file, "-X", "POST", "-u", f"nodes:{applied.pull}", upload) == "401"
    assert _curl(applied.ca_file, "-X", "POST", "-u", f"ci:{applied.push}", upload) == "202"
    # the pull instance is read-only, even for push users
    ro = f"https://{REGISTRY}:{PULL}/v2/smoke/blobs/uploads/"
    assert _curl(applied.ca_file, "-X", "POST", "-u", f"ci:{applied.push}", ro) in {"405", "503"}
    assert (
        _curl(applied.ca_file, "-u", f"nodes:{applied.pull}", f"https://{REGISTRY}:{PULL}/v2/")
        == "200"
    )


def _build_and_push(
    tmp: Path, applied: Applied, tag: str, creds: str | None
) -> subprocess.CompletedProcess[str]:
    (tmp / tag).write_text(f"layer of {tag}\n" + os.urandom(4096).hex())
    ctr = _buildah(tmp, "from", "scratch").stdout.strip()
    _buildah(tmp, "copy", ctr, str(tmp / tag), f"/{tag}")
    _buildah(tmp, "commit", "-q", ctr, f"localhost/smoke:{tag}")
    args = ["push", "--cert-dir", str(applied.cert_dir)]
    args += ["--creds", creds] if creds else []
    return _buildah(tmp, *args, f"localhost/smoke:{tag}", f"docker://{REGISTRY}:{PUSH}/smoke:{tag}")


def test_push_pull_gc_and_reapply(applied: Applied, lab: LabSession, tmp_path: Path) -> None:
    refused = _build_and_push(tmp_path, applied, "a", None)
    assert refused.returncode != 0
    assert _build_and_push(tmp_path, applied, "a", "ci:wrong").returncode != 0
    for tag in ("a", "b"):
        pushed = _build_and_push(tmp_path, applied, tag, f"ci:{applied.push}")
        assert pushed.returncode == 0, pushed.stderr

    # pull from another lab host, TLS verified against the site CA
    lab.run(
        "lab-1",
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
        "--no-install-recommends skopeo",
        timeout=600,
    )
    certs = f"/etc/containers/certs.d/{REGISTRY}:{PULL}"
    lab.run(
        "lab-1",
        f"mkdir -p {certs} && cat > {certs}/ca.crt <<'EOF'\n{applied.ca_file.read_text()}EOF",
    )

    def pull(tag: str) -> subprocess.CompletedProcess[str]:
        return lab.run(
            "lab-1",
            f"rm -rf /tmp/{tag} && skopeo copy --src-creds nodes:{applied.pull} "
            f"docker://{REGISTRY}:{PULL}/smoke:{tag} dir:/tmp/{tag}",
            check=False,
        )

    assert pull("a").returncode == 0, pull("a").stderr
    assert pull("b").returncode == 0
    wrong = lab.run(
        "lab-1",
        f"skopeo inspect --creds nodes:wrong docker://{REGISTRY}:{PULL}/smoke:a",
        check=False,
    )
    assert wrong.returncode != 0

    # delete tag a, collect garbage: b stays pullable, a's own layer is gone
    manifest = json.loads(lab.run("lab-1", "cat /tmp/a/manifest.json").stdout)
    layer_a = manifest["layers"][0]["digest"].split(":", 1)[1]
    digest = lab.run("lab-1", "sha256sum /tmp/a/manifest.json").stdout.split()[0]
    gone = _curl(
        applied.ca_file,
        "-X",
        "DELETE",
        "-u",
        f"ci:{applied.push}",
        f"https://{REGISTRY}:{PUSH}/v2/smoke/manifests/sha256:{digest}",
    )
    assert gone == "202"
    blob = f"/var/lib/registry/docker/registry/v2/blobs/sha256/{layer_a[:2]}/{layer_a}"
    lab.run("lab-3", f"test -d {blob}")
    lab.run("lab-3", "systemctl start mlsite-registry-gc.service", timeout=120)
    lab.run("lab-3", f"test ! -e {blob}")
    journal = lab.run(
        "lab-3", "journalctl -q -u 'mlsite-registry@push' --no-pager | tail -n 20"
    ).stdout
    assert "Stopped" in journal or "Stopping" in journal  # the writer was down during the sweep
    assert lab.run("lab-3", "systemctl is-active mlsite-registry@push").stdout.strip() == "active"
    assert pull("b").returncode == 0
    assert pull("a").returncode != 0

    again = run(applied.request, timeout_s=600)
    assert again["ok"], json.dumps(again, indent=1)
    changed = [o["name"] for o in again["hosts"]["lab-3"]["operations"] if o["changed"]]
    assert again["hosts"]["lab-3"]["changed"] == 0, changed

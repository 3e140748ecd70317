"""Benchmark: push and pull of a 1 GB image through the lab registry vs a plain copy.

Run as root from the project root, with no lab up:
    flock /tmp/mlsite-lab.lock python benchmarks/registry.py
Brings the lab stack's hosts up, applies the registry role to lab-3, builds on this machine
an OCI image with one 1 GiB layer (random bytes, gzip -1, so no client recompresses it),
copies it to lab-1, then in the same run times, between lab-1 and lab-3:
  push  skopeo copy oci:... docker://lab-3:<push port>   (TLS, htpasswd, site CA)
  pull  skopeo copy docker://lab-3:<port> dir:...         (TLS, htpasswd, site CA)
  floor scp of the same layer blob lab-1 -> lab-3 and lab-3 -> lab-1 (SSH-encrypted too)
Target: pull >= 80% of the plain copy. Writes benchmarks/results/registry.json and .md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SIZE = 1024**3
REGISTRY = "10.77.0.13"
PULL, PUSH = 5000, 5001


def make_oci(out: Path) -> tuple[int, str]:
    """An OCI layout with one gzip layer of SIZE random bytes; (layer bytes, layer digest)."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    work = out.parent
    subprocess.run(
        f"head -c {SIZE} /dev/urandom > {work}/big && tar -C {work} -cf - big | gzip -1 > {work}/layer.gz",
        shell=True,
        check=True,
    )
    layer = (work / "layer.gz").read_bytes()
    ldig = hashlib.sha256(layer).hexdigest()
    (work / "layer.gz").rename(blobs / ldig)
    diff_id = hashlib.sha256()
    with subprocess.Popen(["gzip", "-dc", str(blobs / ldig)], stdout=subprocess.PIPE) as p:
        assert p.stdout is not None
        for chunk in iter(lambda: p.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
            diff_id.update(chunk)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id.hexdigest()}"]},
        }
    ).encode()
    cdig = hashlib.sha256(config).hexdigest()
    (blobs / cdig).write_bytes(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{cdig}",
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{ldig}",
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    mdig = hashlib.sha256(manifest).hexdigest()
    (blobs / mdig).write_bytes(manifest)
    (out / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (out / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": f"sha256:{mdig}",
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "big"},
                    }
                ],
            }
        )
    )
    (work / "big").unlink()
    return len(layer), ldig


def timed(fn: Any) -> float:
    start = time.monotonic()
    fn()
    return round(time.monotonic() - start, 2)


def main() -> None:
    import tempfile

    from hosts.runner import run as run_role
    from mlsite.lab import Lab, plan_lab
    from mlsite.spec import load_stack
    from tests.conftest import LabSession, lab_test_dirs
    from tests.registry.labrun import registry_request

    dirs = lab_test_dirs()
    lab = Lab(dirs)
    lab.down()
    lab.up(plan_lab(load_stack("lab").site))
    s = LabSession.of(lab)
    try:
        lab3 = s.host("lab-3")
        setup = registry_request(str(lab3.address), lab3.ssh_port, lab3.ssh_user, str(dirs.ssh_key))
        applied = run_role(setup.request, timeout_s=900)
        if not applied["ok"]:
            raise SystemExit(f"registry apply failed: {applied}")
        s.run(
            "lab-1",
            "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
            "--no-install-recommends skopeo",
            timeout=900,
        )
        for port in (PULL, PUSH):
            d = f"/etc/containers/certs.d/{REGISTRY}:{port}"
            s.run("lab-1", f"mkdir -p {d} && cat > {d}/ca.crt <<'EOF'\n{setup.ca_cert_pem}EOF")
        with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
            size, ldig = make_oci(Path(tmp) / "oci")
            scp = [
                "scp",
                "-q",
                "-r",
                "-i",
                str(dirs.ssh_key),
                "-o",
                f"UserKnownHostsFile={dirs.known_hosts}",
            ]
            subprocess.run(
                [*scp, f"{tmp}/oci", f"root@{s.host('lab-1').address}:/var/tmp/"], check=True
            )
        blob = f"/var/tmp/oci/blobs/sha256/{ldig}"
        # lab-1 -> lab-3 SSH trust for the floor copies, with the lab's own key
        s.run(
            "lab-1",
            "test -f ~/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519",
        )
        pub = s.run("lab-1", "cat ~/.ssh/id_ed25519.pub").stdout
        s.run("lab-3", f"echo '{pub.strip()}' >> ~/.ssh/authorized_keys")
        ssh_opts = "-o StrictHostKeyChecking=accept-new -q"
        push = timed(
            lambda: s.run(
                "lab-1",
                f"skopeo copy -q --dest-creds ci:{setup.push} oci:/var/tmp/oci:big "
                f"docker://{REGISTRY}:{PUSH}/bench/big:1",
                timeout=1800,
            )
        )
        pull = timed(
            lambda: s.run(
                "lab-1",
                f"rm -rf /var/tmp/pulled && skopeo copy -q --src-creds nodes:{setup.pull} "
                f"docker://{REGISTRY}:{PULL}/bench/big:1 dir:/var/tmp/pulled",
                timeout=1800,
            )
        )
        s.run("lab-1", f"cmp /var/tmp/pulled/{ldig} {blob}")
        scp_push = timed(
            lambda: s.run(
                "lab-1", f"scp {ssh_opts} {blob} root@{REGISTRY}:/var/tmp/blob", timeout=1800
            )
        )
        scp_pull = timed(
            lambda: s.run(
                "lab-1",
                f"rm -f /var/tmp/blob2 && scp {ssh_opts} root@{REGISTRY}:/var/tmp/blob /var/tmp/blob2",
                timeout=1800,
            )
        )
    finally:
        lab.down()
    mb = size / 1e6
    out: dict[str, Any] = {
        "image_bytes": size,
        "seconds": {"push": push, "pull": pull, "scp_push": scp_push, "scp_pull": scp_pull},
        "mb_per_s": {
            k: round(mb / v, 1)
            for k, v in {
                "push": push,
                "pull": pull,
                "scp_push": scp_push,
                "scp_pull": scp_pull,
            }.items()
        },
        "pull_vs_plain_copy": round(scp_pull / pull, 3),
        "push_vs_plain_copy": round(scp_push / push, 3),
        "target_pull_vs_plain_copy": 0.8,
        "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} ({platform.machine()}, Python {platform.python_version()})",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "registry.json").write_text(json.dumps(out, indent=2) + "\n")
    rows = "\n".join(
        f"| {k} | {out['seconds'][k]} | {out['mb_per_s'][k]} |" for k in out["seconds"]
    )
    md = (
        f"# Registry: push and pull of a {mb:.0f} MB image, lab-1 <-> lab-3\n\n"
        f"| transfer | s | MB/s |\n|---|---|---|\n{rows}\n\n"
        f"pull / plain copy: **{out['pull_vs_plain_copy']:.0%}** (target >= 80%); "
        f"push / plain copy: {out['push_vs_plain_copy']:.0%}\n\nMeasured {out['measured']} on {out['machine']}.\n"
    )
    (RESULTS / "registry.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

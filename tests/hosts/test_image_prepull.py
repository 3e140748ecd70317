"""Pre-pulling the runtime image on GPU hosts, at operation level."""

from __future__ import annotations

import pytest

from mlsite.hosts.deploys import get as get_deploy
from mlsite.hosts.deploys import image_prepull
from mlsite.hosts.deploys.image_prepull import apply as image_prepull_apply
from mlsite.spec import load_stack
from tests.hosts.fakehost import DEBIAN_12, plan

REF = "akiba-1.ml.akiba.example.jp:5000/ml-runtime:c-0123456789abcdef"


@pytest.fixture
def params(monkeypatch: pytest.MonkeyPatch) -> image_prepull.Params:
    site = load_stack("akiba").site
    gpu = tuple(h for h in site.hosts if h.gpus)
    monkeypatch.setattr("mlsite.spec.Secret.reveal", lambda self: "pull-pass-canary", raising=True)
    return image_prepull.params_for(site, gpu, images=(REF,))


def test_a_missing_image_is_pulled_with_credentials_from_a_root_only_file(
    params: image_prepull.Params,
) -> None:
    p = plan(image_prepull_apply.image_prepull, params, {"OsRelease": DEBIAN_12})
    assert p.error is None
    pull = p.op("image_prepull | Pre-pull")
    assert REF in pull.text and "--hosts-dir /etc/containerd/certs.d" in pull.text
    assert "pull-pass-canary" not in pull.text  # never on a command line
    cred = p.op("image_prepull | Registry pull credentials")
    assert any("pull-pass-canary" in c for c in cred.uploads.values())


def test_an_image_already_there_is_not_pulled_again(params: image_prepull.Params) -> None:
    facts = {
        "OsRelease": DEBIAN_12,
        "ContainerdImages": [REF, "docker.io/library/busybox:1"],
    }
    p = plan(image_prepull_apply.image_prepull, params, facts)
    assert not p.has("image_prepull | Pre-pull")


def test_only_gpu_hosts_pre_pull() -> None:
    site = load_stack("akiba").site
    role = get_deploy("image_prepull")
    assert [h.name for h in site.hosts if role.applies_to(h)] == [
        h.name for h in site.hosts if h.gpus
    ]
    lab = load_stack("lab").site
    assert not [h for h in lab.hosts if role.applies_to(h)]


def test_the_fact_lists_image_references() -> None:
    fact = image_prepull_apply.ContainerdImages()
    assert fact.process([REF, "", "  docker.io/x:1  "]) == [REF, "docker.io/x:1"]

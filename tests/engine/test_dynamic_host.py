"""Resources created by an older mlsite (top-level ``components``) still find their provider."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlsite.engine import dynamic_host
from mlsite.engine.dynamic_host import current_name

LEGACY_PICKLES = {
    # protocol 0 GLOBAL opcodes, as the state of a stack made before the namespace move holds
    "components.hosts.provider": "HostDeployProvider",
    "components.registry.ca": "SiteCaProvider",
    "components.storage.keys": "CephKeysProvider",
}


def _unpickle(with_legacy_names: bool) -> subprocess.CompletedProcess[str]:
    install = "install_legacy_names()" if with_legacy_names else "pass"
    code = "\n".join(
        [
            "import dill, sys",
            "from mlsite.engine.dynamic_host import install_legacy_names",
            install,
            f"for mod, name in {LEGACY_PICKLES!r}.items():",
            "    cls = dill.loads(f'c{mod}\\n{name}\\n.'.encode())",
            "    print(cls.__module__, cls.__name__, sys.modules[cls.__module__].__spec__.name)",
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/"
    )


def test_old_provider_pickles_load_the_classes_that_replaced_them() -> None:
    proc = _unpickle(with_legacy_names=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "mlsite.components.hosts.provider HostDeployProvider mlsite.components.hosts.provider",
        "mlsite.components.ca SiteCaProvider mlsite.components.ca",
        "mlsite.components.storage.keys CephKeysProvider mlsite.components.storage.keys",
    ]


def test_without_the_mapping_the_old_names_are_not_importable() -> None:
    proc = _unpickle(with_legacy_names=False)
    assert proc.returncode != 0
    assert "No module named 'components'" in proc.stderr


@pytest.mark.parametrize(
    ("legacy", "now"),
    [
        ("components", "mlsite.components"),
        ("hosts.runner", "mlsite.hosts.runner"),
        ("components.registry.ca", "mlsite.components.ca"),
        ("mycomponents.x", None),
        ("mlsite.components", None),
    ],
)
def test_current_names(legacy: str, now: str | None) -> None:
    assert current_name(legacy) == now


@pytest.mark.parametrize(
    ("argv", "address"),
    [
        (["127.0.0.1:40123"], "127.0.0.1:40123"),
        (["--logtostderr", "-v=9", "127.0.0.1:40123"], "127.0.0.1:40123"),
        (["--tracing", "file:/tmp/t.json", "localhost:5"], "localhost:5"),
        ([], None),
        (["--logtostderr"], None),
    ],
)
def test_the_engine_address_is_found_among_the_plugin_arguments(
    argv: list[str], address: str | None
) -> None:
    assert dynamic_host.engine_address(argv) == address

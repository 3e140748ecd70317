"""Pure renderers of containerd's configuration: config.toml and per-registry hosts.toml."""

from __future__ import annotations

import base64

HEADER = "# Managed by mlsite (hosts/deploys/containerd.py); local edits are overwritten.\n"
CERTS_D = "/etc/containerd/certs.d"


def config_toml(nvidia: bool) -> str:
    """containerd 1.6/1.7 config (version 2): systemd cgroups, registries from certs.d, and
    the NVIDIA runtime as the default on GPU hosts."""
    runtime = "nvidia" if nvidia else "runc"
    lines = [
        HEADER.rstrip("\n"),
        "version = 2",
        "",
        '[plugins."io.containerd.grpc.v1.cri"]',
        '  [plugins."io.containerd.grpc.v1.cri".containerd]',
        f'    default_runtime_name = "{runtime}"',
        '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '      runtime_type = "io.containerd.runc.v2"',
        '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        "        SystemdCgroup = true",
    ]
    if nvidia:
        lines += [
            '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]',
            '      runtime_type = "io.containerd.runc.v2"',
            '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]',
            '        BinaryName = "/usr/bin/nvidia-container-runtime"',
            "        SystemdCgroup = true",
        ]
    lines += [
        '  [plugins."io.containerd.grpc.v1.cri".registry]',
        f'    config_path = "{CERTS_D}"',
    ]
    return "\n".join(lines) + "\n"


def hosts_toml(
    server: str,
    endpoint: str,
    ca_path: str | None,
    username: str | None = None,
    password: str | None = None,
) -> str:
    """mlsite.hosts.toml of one registry (or mirror of ``server``) served at ``endpoint``.

    Credentials travel as a Basic Authorization header (the file is mode 600)."""
    lines = [HEADER.rstrip("\n"), f'server = "{server}"', "", f'[host."{endpoint}"]']
    lines.append('  capabilities = ["pull", "resolve"]')
    if ca_path:
        lines.append(f'  ca = "{ca_path}"')
    if username and password:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        lines += [f'  [host."{endpoint}".header]', f'    Authorization = "Basic {token}"']
    return "\n".join(lines) + "\n"

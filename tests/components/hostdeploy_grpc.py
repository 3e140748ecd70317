"""Drive the SDK's dynamic-provider server over gRPC, as the Pulumi engine does.

The engine starts ``python -m mlsite.engine.dynamic_host`` (pulumi-resource-pulumi-python), reads
the port it prints, calls Configure with the stack config, then Check/Diff/Create/Read/
Update/Delete with the pickled provider in the ``__provider`` property. Dynamic providers
answer Configure with ``acceptSecrets: false``, so the engine sends secrets as plain values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from mlsite.components.hosts.provider import HostDeployProvider

ROOT = Path(__file__).resolve().parents[2]
TYPE = "pulumi-python:dynamic/hosts:HostDeploy"


def _struct(d: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def _dict(s: struct_pb2.Struct) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(s)
    return out


@dataclass
class Engine:
    """The engine's side of the provider protocol for one HostDeploy."""

    stub: provider_pb2_grpc.ResourceProviderStub
    name: str
    provider_blob: str

    @property
    def urn(self) -> str:
        return f"urn:pulumi:lab::mlsite::mlsite:hosts:Hosts${TYPE}::{self.name}"

    def props(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {**inputs, "__provider": self.provider_blob}

    def configure(self, config: dict[str, str]) -> provider_pb2.ConfigureResponse:
        return self.stub.Configure(
            provider_pb2.ConfigureRequest(variables=config, args=_struct(config))
        )

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> provider_pb2.CheckResponse:
        return self.stub.Check(
            provider_pb2.CheckRequest(
                urn=self.urn, olds=_struct(olds), news=_struct(self.props(news))
            )
        )

    def diff(
        self, id_: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> provider_pb2.DiffResponse:
        return self.stub.Diff(
            provider_pb2.DiffRequest(id=id_, urn=self.urn, olds=_struct(olds), news=_struct(news))
        )

    def create(self, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        r = self.stub.Create(provider_pb2.CreateRequest(urn=self.urn, properties=_struct(news)))
        return r.id, _dict(r.properties)

    def read(self, id_: str, outs: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        r = self.stub.Read(
            provider_pb2.ReadRequest(
                id=id_, urn=self.urn, properties=_struct(outs), inputs=_struct(inputs)
            )
        )
        return _dict(r.properties)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        r = self.stub.Update(
            provider_pb2.UpdateRequest(id=id_, urn=self.urn, olds=_struct(olds), news=_struct(news))
        )
        return _dict(r.properties)

    def delete(self, id_: str, outs: dict[str, Any]) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=self.urn, properties=_struct(outs)))


@contextmanager
def provider_server(name: str, env: dict[str, str] | None = None) -> Iterator[Engine]:
    """Start the dynamic provider host from the project directory; yield the engine side."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "mlsite.engine.dynamic_host"],
        cwd=ROOT,
        env={**os.environ, "PULUMI_PROJECT": "mlsite", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield Engine(
            provider_pb2_grpc.ResourceProviderStub(channel),
            name,
            serialize_provider(HostDeployProvider(timeout_s=900)),
        )
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

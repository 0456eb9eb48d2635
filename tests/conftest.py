"""Shared fixtures: a real moto server and the TikTok sandbox over loopback, fresh resources per test."""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack import demo
from devstack.lambda_runtime import LocalLambdaContext, invoke
from devstack.local_aws import (
    ConnectorResources,
    MotoServer,
    aws_environment,
    create_connector_resources,
    read_queue,
)
from devstack.tiktok_sandbox import TikTokSandbox

pytest_plugins = ["tests.privacy_guard"]

# Tracing switches itself off outside Lambda; metrics need a namespace (Powertools testing docs).
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MParticleTikTokConnector")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tiktok-connector")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[TikTokSandbox]:
    sandbox = TikTokSandbox(access_tokens=(demo.ACCESS_TOKEN,)).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(sandbox_server: TikTokSandbox) -> TikTokSandbox:
    sandbox_server.reset()
    sandbox_server.set_access_tokens([demo.ACCESS_TOKEN])
    return sandbox_server


def reset_connector_state() -> None:
    """What a new Lambda container would start with: no cached settings, secret, clients or session."""
    from tiktok_connector.config import reset_settings
    from tiktok_connector.delivery.dead_letters import reset_sqs_client
    from tiktok_connector.delivery.letter_store import reset_s3_client
    from tiktok_connector.delivery.tiktok_client import reset_session
    from tiktok_connector.platform.secret_store import clear_secret_cache
    from tiktok_connector.routes import authentication

    reset_settings()
    authentication._last_refresh = 0.0
    clear_secret_cache()
    reset_sqs_client()
    reset_s3_client()
    reset_session()


@dataclass
class Stack:
    """The connector wired to the local stack, with helpers to invoke it and look at the results."""

    moto: MotoServer
    sandbox: TikTokSandbox
    resources: ConnectorResources
    monkeypatch: pytest.MonkeyPatch

    def invoke(self, event: dict[str, Any], timeout_s: float = 25.0) -> tuple[int, dict[str, Any]]:
        return invoke(event, LocalLambdaContext(timeout_s=timeout_s))

    def dead_letters(self) -> list[dict[str, Any]]:
        return read_queue(self.moto.url, self.resources.queue_url)

    def set_env(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)
        reset_connector_state()

    def del_env(self, name: str) -> None:
        self.monkeypatch.delenv(name, raising=False)
        reset_connector_state()

    def put_secret(self, secret: dict[str, str]) -> None:
        import boto3

        boto3.client("secretsmanager").put_secret_value(
            SecretId=self.resources.secret_arn, SecretString=json.dumps(secret)
        )


@pytest.fixture
def stack(
    moto_server: MotoServer, sandbox: TikTokSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    resources = create_connector_resources(moto_server.url, secret=demo.SECRET)
    for name, value in {
        **aws_environment(moto_server.url),
        **demo.connector_environment(resources, sandbox.track_url),
    }.items():
        monkeypatch.setenv(name, value)
    reset_connector_state()
    yield Stack(moto=moto_server, sandbox=sandbox, resources=resources, monkeypatch=monkeypatch)
    reset_connector_state()

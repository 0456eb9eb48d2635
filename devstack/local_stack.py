"""The local stack in one `with`: moto server, TikTok sandbox, the connector's resources and environment.

`make run` and `make golden` use it; the tests build the same stack from fixtures (tests/conftest.py).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from devstack import demo
from devstack.local_aws import (
    ConnectorResources,
    MotoServer,
    aws_environment,
    create_connector_resources,
    read_queue,
)
from devstack.tiktok_sandbox import TikTokSandbox


@dataclass(frozen=True, slots=True)
class LocalStack:
    moto: MotoServer
    sandbox: TikTokSandbox
    resources: ConnectorResources

    def take_dead_letters(self) -> list[dict[str, Any]]:
        """The dead letters now in the queue, removed from it (the next sample starts with none)."""
        return read_queue(self.moto.url, self.resources.queue_url, delete=True)


@contextmanager
def local_stack(*, name: str = "tiktok-connector-local", quiet: bool = True) -> Iterator[LocalStack]:
    """Start everything, point the in-process handler at it, and restore the environment afterwards.

    `quiet` silences the function's JSON logs and EMF metrics, which would drown a demo.
    """
    saved = dict(os.environ)
    try:
        if quiet:
            os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
            os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        with MotoServer() as moto, TikTokSandbox(access_tokens=(demo.ACCESS_TOKEN,)) as sandbox:
            resources = create_connector_resources(moto.url, secret=demo.SECRET, name=name)
            os.environ.update(aws_environment(moto.url))
            os.environ.update(demo.connector_environment(resources, sandbox.track_url))
            yield LocalStack(moto=moto, sandbox=sandbox, resources=resources)
    finally:
        os.environ.clear()
        os.environ.update(saved)

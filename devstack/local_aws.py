"""A local AWS endpoint (moto server) and the connector's resources in it, for tests and `make run`."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import boto3

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MotoServer:
    """`moto_server` in a child process on 127.0.0.1, ready when `start()` returns."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    return self
            except OSError:
                if self._process.poll() is not None:
                    raise RuntimeError("moto_server exited during start-up") from None
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("moto_server did not become ready within 20 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """What boto3 needs to talk to the local endpoint; the code is unchanged (boto3 reads the endpoint)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


@dataclass(frozen=True, slots=True)
class ConnectorResources:
    secret_arn: str
    queue_url: str
    parking_queue_url: str
    bucket: str = ""
    """S3 bucket for dead letters over one SQS message (none: such a letter's batch is answered 503)."""


def create_connector_resources(
    endpoint_url: str,
    *,
    secret: dict[str, str],
    name: str | None = None,
) -> ConnectorResources:
    """A secret holding `secret` (JSON), the dead-letter and parking queues (1 MiB messages, as the
    template makes them) and the dead-letter bucket."""
    name = name or f"tiktok-connector-{uuid.uuid4().hex[:8]}"
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    secrets = session.client("secretsmanager", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    secret_arn = secrets.create_secret(Name=name, SecretString=json.dumps(secret))["ARN"]
    size = str(1024 * 1024)
    queue_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MaximumMessageSize": size})["QueueUrl"]
    parking_url = sqs.create_queue(QueueName=f"{name}-parking", Attributes={"MaximumMessageSize": size})[
        "QueueUrl"
    ]
    bucket = f"{name}-dead-letters"
    s3.create_bucket(Bucket=bucket)
    return ConnectorResources(
        secret_arn=secret_arn, queue_url=queue_url, parking_queue_url=parking_url, bucket=bucket
    )


def read_queue(endpoint_url: str, queue_url: str, *, delete: bool = False) -> list[dict[str, object]]:
    """Every message now in a queue (parsed JSON bodies); left visible again unless `delete`."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    messages: list[dict[str, object]] = []
    receipts: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not batch:
            break
        for message in batch:
            messages.append(json.loads(message["Body"]))
            receipts.append(message["ReceiptHandle"])
    for receipt in receipts:
        if delete:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
        else:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return messages

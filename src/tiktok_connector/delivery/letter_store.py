"""Dead letters too large for one SQS message, kept whole in S3 behind a small pointer message.

The pattern of AWS's SQS extended client (Amazon SQS Extended Client Library): the object holds the
letter, the queue holds `["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": ...,
"s3Key": ...}]` with the letter's size in the `ExtendedPayloadSize` attribute, so that the extended
client can read our queue too. The bucket encrypts objects by default and expires them after the
queue's retention: whoever moves a pointer on (the redrive) writes the object again to restart its
lifetime. A few boto3 calls do this; the extended client library would patch boto3's clients for the
same result and cannot be held to the Lambda deadline.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from tiktok_connector.platform.aws import aws_client_key

POINTER_CLASS: Final = "software.amazon.payloadoffloading.PayloadS3Pointer"
SIZE_ATTRIBUTE: Final = "ExtendedPayloadSize"
KEY_PREFIX: Final = "dead-letters/"
_s3: Any = None
_s3_for: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class S3Pointer:
    bucket: str
    key: str

    def body(self) -> str:
        """The pointer message, as the SQS extended client writes it."""
        return json.dumps([POINTER_CLASS, {"s3BucketName": self.bucket, "s3Key": self.key}])


def new_pointer(bucket: str) -> S3Pointer:
    """A fresh object key under `dead-letters/<date>/`."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return S3Pointer(bucket=bucket, key=f"{KEY_PREFIX}{day}/{uuid.uuid4()}.json")


def parse_pointer(body: str) -> S3Pointer | None:
    """The pointer a message body holds, or None when it is not one."""
    if not body.startswith("["):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not (isinstance(document, list) and len(document) == 2 and document[0] == POINTER_CLASS):
        return None
    target = document[1]
    if not isinstance(target, dict):
        return None
    bucket, key = target.get("s3BucketName"), target.get("s3Key")
    if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
        return None
    return S3Pointer(bucket=bucket, key=key)


def s3_client() -> Any:
    """Created on first use: only letters over one SQS message need S3."""
    global _s3, _s3_for  # noqa: PLW0603 - one client per container
    if _s3 is None or _s3_for != aws_client_key():
        _s3_for = aws_client_key()
        import boto3  # here: a successful invocation never needs S3
        from botocore.config import Config

        config = Config(connect_timeout=1, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})
        _s3 = boto3.client("s3", config=config)
    return _s3


def reset_s3_client() -> None:
    global _s3  # noqa: PLW0603
    _s3 = None


def put_letter(pointer: S3Pointer, body: str) -> None:
    """Store (or store again, restarting its lifetime) a letter's text; raises what S3 raised."""
    s3_client().put_object(
        Bucket=pointer.bucket, Key=pointer.key, Body=body.encode("utf-8"), ContentType="application/json"
    )


def get_letter(pointer: S3Pointer) -> str:
    """The letter's text; raises what S3 raised (a missing object included)."""
    answer = s3_client().get_object(Bucket=pointer.bucket, Key=pointer.key)
    text: str = answer["Body"].read().decode("utf-8")
    return text


def delete_letter(pointer: S3Pointer) -> None:
    s3_client().delete_object(Bucket=pointer.bucket, Key=pointer.key)

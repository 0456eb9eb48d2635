"""Dead letters: what could not be delivered, in the form kept so that it can be replayed.

A letter holds a valid TikTok request body (identities already hashed, never the access token), the
error, whether it is retryable, the attempt count, timestamps and the source ids. A letter fits one
SQS message (1 MiB since AWS raised the limit from 256 KiB, AWS Compute Blog: "serverless services
now support payloads up to 1 MB"; SQS bills each 64 KiB chunk): a large request is split into
several letters, each a valid request body. Only a single event over the limit makes a letter too
large; the writer stores such a letter in S3 behind a pointer (`letter_store`).
"""

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from tiktok_connector.delivery.masking import mask_personal_data
from tiktok_connector.model.tiktok import JsonObject, SourceRef, TikTokRequest
from tiktok_connector.platform.aws import aws_client_key

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MESSAGE_VERSION: Final = 1
SQS_MESSAGE_LIMIT: Final = 1024 * 1024
"""SQS's largest message, and the largest total of one `send_message_batch` call."""
ATTRIBUTE_ALLOWANCE: Final = 1024  # message attributes count towards SQS's limit
_sqs: "SQSClient | None" = None
_sqs_for: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """Why a request could not be delivered."""

    reason: str
    retryable: bool
    attempts: int
    first_attempt_at: float
    last_attempt_at: float
    http_status: int | None = None
    tiktok_code: int | None = None
    message: str = ""
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message's worth: the letter's JSON text (ASCII), and what the writer needs to know of it."""

    body: str
    event_count: int
    reason: str = ""
    retryable: bool = False

    @property
    def size(self) -> int:
        """Bytes it takes of SQS's limit, attributes included."""
        return len(self.body) + ATTRIBUTE_ALLOWANCE

    @property
    def fits_one_message(self) -> bool:
        return self.size <= SQS_MESSAGE_LIMIT


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")


def dead_letter_messages(
    request: TikTokRequest,
    failure: DeliveryFailure,
    *,
    origin: str,
    redrive_attempts: int = 0,
    token_from_request: bool = False,
) -> list[DeadLetter]:
    """Letters of at most one SQS message each, each a valid request body; a large request is split.

    A letter of one event can still be larger than a message: the writer stores it in S3.

    `token_from_request` marks a Firehose request that brought its own access token: the token is
    never stored, so a replay can only use the connector's secret.
    """
    source: JsonObject = {"origin": origin, "access_token": "request" if token_from_request else "secret"}
    return _split(request.body, request.sources, failure, source, redrive_attempts)


def _split(
    body: JsonObject,
    sources: Sequence[SourceRef],
    failure: DeliveryFailure,
    source: JsonObject,
    redrive_attempts: int,
) -> list[DeadLetter]:
    message = json.dumps(
        {
            "version": MESSAGE_VERSION,
            "reason": failure.reason,
            "retryable": failure.retryable,
            "attempts": failure.attempts,
            "redrive_attempts": redrive_attempts,
            "first_attempt_at": _iso(failure.first_attempt_at),
            "last_attempt_at": _iso(failure.last_attempt_at),
            "dead_lettered_at": _iso(time.time()),
            "error": {
                "http_status": failure.http_status,
                "tiktok_code": failure.tiktok_code,
                # Masked when read from TikTok's answer already; masked again where it is stored.
                "message": mask_personal_data(failure.message),
                "request_id": failure.request_id,
            },
            "source": {**source, "events": [asdict(ref) for ref in sources]},
            "request": body,
        },
        separators=(",", ":"),
        # ASCII: a lone surrogate (a split emoji) would fail UTF-8 encoding, and SQS refuses it too.
        ensure_ascii=True,
    )
    letter = DeadLetter(message, len(sources), failure.reason, failure.retryable)
    if letter.fits_one_message or len(sources) <= 1:
        return [letter]
    data = body["data"]
    assert isinstance(data, list)
    half = len(data) // 2
    return [
        *_split({**body, "data": data[:half]}, sources[:half], failure, source, redrive_attempts),
        *_split({**body, "data": data[half:]}, sources[half:], failure, source, redrive_attempts),
    ]


def sqs_client() -> "SQSClient":
    """Created on first use: only the failure path needs SQS (keeps cold starts short)."""
    global _sqs, _sqs_for  # noqa: PLW0603 - one client per container
    if _sqs is None or _sqs_for != aws_client_key():
        _sqs_for = aws_client_key()
        # boto3 is imported here, with the first dead letter: a successful invocation never needs it.
        import boto3
        from botocore.config import Config

        # Short: calls are bounded by the Lambda deadline anyway (`call_within`), and a call given up on
        # should not linger in its thread.
        config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})
        _sqs = boto3.client("sqs", config=config)
    return _sqs


def reset_sqs_client() -> None:
    global _sqs  # noqa: PLW0603
    _sqs = None

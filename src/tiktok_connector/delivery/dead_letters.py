"""The SQS dead-letter queue: what could not be delivered, kept so it can be replayed (SPEC 5).

A message holds a valid TikTok request body (identities already hashed, never the access token),
the error, whether it is retryable, the attempt count, timestamps and the source ids.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from tiktok_connector.model.tiktok import JsonObject, SourceRef, TikTokRequest
from tiktok_connector.platform.aws import aws_client_key
from tiktok_connector.platform.errors import DeadLetterUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MESSAGE_VERSION: Final = 1
SQS_MESSAGE_LIMIT: Final = 256 * 1024
ATTRIBUTE_ALLOWANCE: Final = 1024  # message attributes count towards SQS's limit
_BOTO_CONFIG: Final = Config(
    connect_timeout=2, read_timeout=4, retries={"mode": "standard", "max_attempts": 3}
)
_sqs: "SQSClient | None" = None
_sqs_for: tuple[str | None, ...] = ()


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
    body: str
    event_count: int


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
    """Messages of at most 256 KiB each, each a valid request body; a large request is split.

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
                "message": failure.message,
                "request_id": failure.request_id,
            },
            "source": {**source, "events": [asdict(ref) for ref in sources]},
            "request": body,
        },
        separators=(",", ":"),
        # ASCII: a lone surrogate (a split emoji) would fail UTF-8 encoding, and SQS refuses it too.
        ensure_ascii=True,
    )
    if len(message.encode("utf-8")) + ATTRIBUTE_ALLOWANCE <= SQS_MESSAGE_LIMIT or len(sources) <= 1:
        return [DeadLetter(body=message, event_count=len(sources))]
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
        _sqs = boto3.client("sqs", config=_BOTO_CONFIG)
    return _sqs


def reset_sqs_client() -> None:
    global _sqs  # noqa: PLW0603
    _sqs = None


def send_dead_letters(queue_url: str, letters: Sequence[DeadLetter], *, reason: str, retryable: bool) -> int:
    """Send each message; returns how many events were written, raising if one message failed.

    The exception carries the count already written in `written_events` so that the caller can
    account for every event.
    """
    written = 0
    for letter in letters:
        if len(letter.body.encode("utf-8")) + ATTRIBUTE_ALLOWANCE > SQS_MESSAGE_LIMIT:
            raise _unavailable("a single event exceeds the SQS message limit", written)
        try:
            sqs_client().send_message(
                QueueUrl=queue_url,
                MessageBody=letter.body,
                MessageAttributes={
                    "reason": {"DataType": "String", "StringValue": reason},
                    "retryable": {"DataType": "String", "StringValue": str(retryable).lower()},
                },
            )
        except Exception as error:  # any SQS failure means the events are not safe yet
            raise _unavailable(
                f"the dead-letter queue could not be written ({type(error).__name__})", written
            ) from None
        written += letter.event_count
    return written


class PartialDeadLetterError(DeadLetterUnavailableError):
    def __init__(self, message: str, written_events: int) -> None:
        super().__init__(message)
        self.written_events = written_events


def _unavailable(message: str, written: int) -> PartialDeadLetterError:
    return PartialDeadLetterError(message, written)

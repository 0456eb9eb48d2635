"""Dead letters as the redrive reads and writes them: parse one, write its successor, mark it parked.

A letter is the format `delivery/dead_letters.py` writes: a complete TikTok request body (identities
already hashed, never a token), why it failed, the attempt counts and where its events came from.
"""

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tiktok_connector.delivery.dead_letters import (
    ATTRIBUTE_ALLOWANCE,
    MESSAGE_VERSION,
    SQS_MESSAGE_LIMIT,
    DeliveryFailure,
    dead_letter_messages,
)
from tiktok_connector.delivery.settlement import can_split, halves
from tiktok_connector.model.tiktok import JsonObject, SourceRef, TikTokRequest


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter this version can replay."""

    request: JsonObject
    sources: list[SourceRef]
    reason: str
    retryable: bool
    attempts: int
    redrive_attempts: int
    origin: str
    first_attempt_at: float
    token_from_request: bool = False
    """Sent with a Firehose request's own token, which is never stored: no replay can use it."""

    @property
    def event_count(self) -> int:
        return len(self.sources)

    @property
    def event_ids(self) -> list[str]:
        data = self.request["data"]
        assert isinstance(data, list)
        return [str(item.get("event_id")) for item in data if isinstance(item, dict)]


def parse_letter(body: str) -> Letter | None:
    """The dead letter in `body`, or None when it is not one this version can replay."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("version") != MESSAGE_VERSION:
        return None
    request, source = document.get("request"), document.get("source")
    reason, retryable = document.get("reason"), document.get("retryable")
    attempts, redrive_attempts = document.get("attempts", 0), document.get("redrive_attempts", 0)
    if not (
        isinstance(request, dict)
        and isinstance(source, dict)
        and isinstance(reason, str)
        and isinstance(retryable, bool)
        and _count(attempts)
        and _count(redrive_attempts)
    ):
        return None
    sources = _sources(request, source)
    if sources is None:
        return None
    return Letter(
        request=request,
        sources=sources,
        reason=reason,
        retryable=retryable or reason == "token_rejected",  # retryable once the secret is fixed
        attempts=attempts,
        redrive_attempts=redrive_attempts,
        origin=str(source.get("origin") or "unknown"),
        token_from_request=source.get("access_token") == "request",
        first_attempt_at=_timestamp(document.get("first_attempt_at")),
    )


def _sources(request: JsonObject, source: JsonObject) -> list[SourceRef] | None:
    """One source per request event, each with a text event id; else None."""
    data, events = request.get("data"), source.get("events")
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        return None
    if not isinstance(events, list) or len(events) != len(data):
        return None
    try:
        sources = [SourceRef(**event) for event in events]
    except TypeError:
        return None
    return sources if all(isinstance(ref.event_id, str) for ref in sources) else None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _timestamp(value: object) -> float:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return time.time()


def successor_bodies(letter: Letter, failure: DeliveryFailure) -> list[str]:
    """The letter after a failed replay: same request and sources, the new error, one more redrive attempt."""
    request = TikTokRequest(body=letter.request, sources=letter.sources)
    messages = dead_letter_messages(
        request,
        failure,
        origin=letter.origin,
        redrive_attempts=letter.redrive_attempts + 1,
        token_from_request=letter.token_from_request,
    )
    return [message.body for message in messages]


def split_successor_bodies(letter: Letter, failure: DeliveryFailure) -> list[str] | None:
    """After a 40002 refusal of several events: the letter's two halves, each to be replayed on its own
    (the redrive's way of finding the bad events: by halving, one run per level); else None.

    The halves keep the letter's redrive attempts (each split makes progress, at most ⌈log2 n⌉ deep)
    and are retryable: each may hold good events. A refused lone event is parked as `rejected`.
    """
    request = TikTokRequest(body=letter.request, sources=letter.sources)
    if not can_split(request, failure):
        return None
    worth_replaying = replace(failure, retryable=True)
    return [
        message.body
        for half in halves(request)
        for message in dead_letter_messages(
            half,
            worth_replaying,
            origin=letter.origin,
            redrive_attempts=letter.redrive_attempts,
            token_from_request=letter.token_from_request,
        )
    ]


def parked_text(body: str, reason: str, *, allow_oversized: bool = False) -> str:
    """The letter with why and when it was parked; unchanged if it is not a letter, or if it would
    not fit one message unless `allow_oversized` (it is then stored in S3)."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict):
        return body
    document["parked_reason"] = reason
    document["parked_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    text = json.dumps(document, separators=(",", ":"))
    if not allow_oversized and len(text.encode("utf-8")) + ATTRIBUTE_ALLOWANCE > SQS_MESSAGE_LIMIT:
        return body
    return text

"""What delivery came to: the report the pipeline summarises, and the accounting of each event."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from tiktok_connector.delivery.dead_letters import DeliveryFailure
from tiktok_connector.delivery.tiktok_client import Outcome, TikTokAnswer
from tiktok_connector.model.tiktok import TikTokRequest
from tiktok_connector.platform.observability import logger

PARTIAL_SUCCESS_WARNING: Final = "tiktok_partial_success"


@dataclass(slots=True)
class DeliveryReport:
    forwarded: int = 0
    dead_lettered: int = 0
    unaccounted: int = 0
    tiktok_requests: int = 0
    retries: int = 0
    splits: int = 0
    """Requests refused with 40002 that were split in halves to find their bad events."""
    latencies_ms: list[float] = field(default_factory=list)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    resend_reasons: Counter[str] = field(default_factory=Counter)
    """Events handed back for mParticle to resend (counted in `unaccounted` too), by failure reason."""
    forwarded_requests: list[TikTokRequest] = field(default_factory=list)
    """What TikTok accepted, as requests (or parts of one): their events are the `forwarded` ones."""
    warnings: Counter[str] = field(default_factory=Counter)
    """Counts that change no outcome: `tiktok_partial_success` answers."""


def account(failure: DeliveryFailure, events: int, written: int, report: DeliveryReport) -> None:
    """Count one kind of failure's events as dead-lettered (`written`) or unaccounted (the rest)."""
    report.dead_lettered += written
    report.unaccounted += events - written
    if written:
        report.dead_letter_reasons[failure.reason] += written
    # Operators see why without reading the queue; TikTok's message is left out (it may quote a value).
    logger.warning(
        "request dead-lettered",
        extra={
            "reason": failure.reason,
            "retryable": failure.retryable,
            "attempts": failure.attempts,
            "http_status": failure.http_status,
            "tiktok_code": failure.tiktok_code,
            "tiktok_request_id": failure.request_id,
            "events": events,
            "dead_lettered": written,
        },
    )


def hand_back(request: TikTokRequest, failure: DeliveryFailure, report: DeliveryReport) -> None:
    """A request that brought its own token failed for a passing reason: mParticle resends it (503).

    Its token is never stored, so a dead letter could not be replayed; the resend carries the token
    again, and TikTok deduplicates the events it already has by their unchanged event ids.
    """
    report.unaccounted += request.event_count
    report.resend_reasons[failure.reason] += request.event_count
    logger.warning(
        "request handed back for mParticle to resend",
        extra={
            "reason": failure.reason,
            "attempts": failure.attempts,
            "http_status": failure.http_status,
            "tiktok_code": failure.tiktok_code,
            "tiktok_request_id": failure.request_id,
            "events": request.event_count,
        },
    )


def delivery_failure(
    outcome: Outcome, answer: TikTokAnswer | None, *, attempts: int, first_attempt_at: float
) -> DeliveryFailure:
    """The failure to store in a dead letter, from what the last POST came to."""
    return DeliveryFailure(
        reason=outcome.reason,
        retryable=outcome.retryable,
        attempts=attempts,
        first_attempt_at=first_attempt_at,
        last_attempt_at=time.time(),
        http_status=answer.http_status if answer else None,
        tiktok_code=answer.code if answer else None,
        message=answer.message if answer else "",
        request_id=answer.request_id if answer else None,
    )

"""Delivery to TikTok with retries inside the Lambda deadline, then the dead-letter queue.

Every event handed to `deliver` ends forwarded, dead-lettered, or counted as `unaccounted`
(neither; the handler then answers 503 so that mParticle resends the batch).
"""

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from tiktok_connector.delivery.dead_letters import (
    DeadLetter,
    DeliveryFailure,
    PartialDeadLetterError,
    dead_letter_messages,
    send_dead_letters,
)
from tiktok_connector.delivery.tiktok_client import (
    DEADLINE_EXCEEDED,
    SECRET_UNAVAILABLE,
    TOKEN_MISSING,
    Outcome,
    TikTokAnswer,
    Timeouts,
    TokenSource,
    Verdict,
    encode_request_body,
    post_request,
)
from tiktok_connector.model.tiktok import TikTokRequest
from tiktok_connector.platform.errors import UnavailableError
from tiktok_connector.platform.observability import logger


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    reserve_ms: int = 2500
    """Time kept back for writing dead letters and answering before the Lambda deadline."""
    min_attempt_ms: int = 1000


RETRY_POLICY: Final = RetryPolicy()


@dataclass(slots=True)
class DeliveryReport:
    forwarded: int = 0
    dead_lettered: int = 0
    unaccounted: int = 0
    tiktok_requests: int = 0
    retries: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    resend_reasons: Counter[str] = field(default_factory=Counter)
    """Events handed back for mParticle to resend (counted in `unaccounted` too), by failure reason."""
    forwarded_requests: list[TikTokRequest] = field(default_factory=list)
    """What TikTok accepted, as requests (or parts of one): their events are the `forwarded` ones."""


def deliver(
    requests: Sequence[TikTokRequest],
    *,
    api_url: str,
    token_source: TokenSource,
    queue_url: str,
    remaining_ms: Callable[[], int],
    origin: str,
    token_from_request: bool = False,
    policy: RetryPolicy | None = None,
) -> DeliveryReport:
    """Send each request; what cannot be delivered goes to the dead-letter queue."""
    policy = policy or RETRY_POLICY
    report = DeliveryReport()
    for request in requests:
        failure = _send_with_retries(request, api_url, token_source, remaining_ms, policy, report)
        if failure is None:
            report.forwarded += request.event_count
            report.forwarded_requests.append(request)
        elif token_from_request and failure.retryable and failure.reason != "token_rejected":
            _hand_back(request, failure, report)
        else:
            if token_from_request:
                # Only mParticle holds the request's token (never stored): no replay could send this.
                failure = replace(failure, retryable=False)
            letters = dead_letter_messages(
                request, failure, origin=origin, token_from_request=token_from_request
            )
            _dead_letter(request, letters, failure, queue_url, report)
    return report


def _send_with_retries(
    request: TikTokRequest,
    api_url: str,
    token_source: TokenSource,
    remaining_ms: Callable[[], int],
    policy: RetryPolicy,
    report: DeliveryReport,
) -> DeliveryFailure | None:
    body = encode_request_body(request.body)
    first_attempt_at = time.time()
    attempts = 0

    def failed(outcome: Outcome, answer: TikTokAnswer | None = None) -> DeliveryFailure:
        return delivery_failure(outcome, answer, attempts=attempts, first_attempt_at=first_attempt_at)

    try:
        token = token_source(False)
    except UnavailableError:
        return failed(SECRET_UNAVAILABLE)
    if not token:
        return failed(TOKEN_MISSING)

    timeouts = _timeouts_within(remaining_ms, policy)
    failure: DeliveryFailure | None = None
    while True:
        sent = post_request(api_url, body, token=token, token_source=token_source, timeouts=timeouts)
        token = sent.token
        attempts += sent.posts
        report.tiktok_requests += sent.posts
        report.latencies_ms.extend(sent.latencies_ms)
        if sent.outcome.accepted:
            return None
        if sent.outcome is DEADLINE_EXCEEDED:
            return failure or failed(sent.outcome)
        failure = failed(sent.outcome, sent.answer)
        if sent.outcome.verdict is not Verdict.RETRY or attempts >= policy.max_attempts:
            return failure  # refused, or the token was rejected even after a refresh, or attempts used up
        delay_s = random.uniform(0, min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempts - 1)))
        if remaining_ms() - policy.reserve_ms < delay_s * 1000 + policy.min_attempt_ms:
            return failure
        time.sleep(delay_s)
        report.retries += 1


def _hand_back(request: TikTokRequest, failure: DeliveryFailure, report: DeliveryReport) -> None:
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


def _timeouts_within(remaining_ms: Callable[[], int], policy: RetryPolicy) -> Callable[[], Timeouts | None]:
    """Each POST's timeouts: never past the budget, or the dead letters would miss the deadline."""

    def timeouts() -> Timeouts | None:
        budget_ms = remaining_ms() - policy.reserve_ms
        if budget_ms < policy.min_attempt_ms:
            return None
        connect_timeout = min(policy.connect_timeout_s, budget_ms / 2000)
        return connect_timeout, min(policy.read_timeout_s, budget_ms / 1000 - connect_timeout)

    return timeouts


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


def _dead_letter(
    request: TikTokRequest,
    letters: Sequence[DeadLetter],
    failure: DeliveryFailure,
    queue_url: str,
    report: DeliveryReport,
) -> None:
    try:
        written = send_dead_letters(queue_url, letters, reason=failure.reason, retryable=failure.retryable)
    except PartialDeadLetterError as error:
        written = error.written_events
    report.dead_lettered += written
    report.unaccounted += request.event_count - written
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
            "events": request.event_count,
            "dead_lettered": written,
        },
    )
    if written < request.event_count:
        logger.error(
            "events neither delivered nor dead-lettered",
            extra={"reason": failure.reason, "unaccounted": request.event_count - written},
        )

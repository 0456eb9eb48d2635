"""Delivery to TikTok with retries inside the Lambda deadline, then the dead-letter queue (SPEC 4, 5).

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
    TikTokAnswer,
    TransportError,
    Verdict,
    encode_request_body,
    post_events,
)
from tiktok_connector.model.tiktok import TikTokRequest
from tiktok_connector.platform.errors import UnavailableError
from tiktok_connector.platform.observability import logger

TokenSource = Callable[[bool], str | None]
"""Returns the TikTok access token; `True` asks for a fresh read that bypasses the cache."""


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


def failure_reason(answer: TikTokAnswer) -> str:
    """A short, stable reason name for the dead-letter queue and metrics."""
    if answer.code == 40100 or answer.http_status == 429:
        return "rate_limited"
    if answer.http_status == 408:
        return "timeout"
    if answer.http_status >= 500 or answer.code in (50000, 50002):
        return "server_error"
    if answer.code == 40105:
        return "token_rejected"
    if answer.code == 40001:
        return "no_permission"
    if answer.http_status == 200 and answer.code is None:
        return "invalid_answer"
    return "rejected"


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
    token_refreshed = False
    failure: DeliveryFailure | None = None

    def failed(reason: str, retryable: bool, answer: TikTokAnswer | None = None) -> DeliveryFailure:
        return DeliveryFailure(
            reason=reason,
            retryable=retryable,
            attempts=attempts,
            first_attempt_at=first_attempt_at,
            last_attempt_at=time.time(),
            http_status=answer.http_status if answer else None,
            tiktok_code=answer.code if answer else None,
            message=answer.message if answer else "",
            request_id=answer.request_id if answer else None,
        )

    try:
        token = token_source(False)
    except UnavailableError:
        return failed("secret_unavailable", True)
    if not token:
        return failed("token_missing", True)

    while True:
        budget_ms = remaining_ms() - policy.reserve_ms
        if budget_ms < policy.min_attempt_ms:
            return failure or failed("deadline_exceeded", True)
        # An attempt never outlasts the budget, or the dead letters would miss the deadline.
        connect_timeout = min(policy.connect_timeout_s, budget_ms / 2000)
        read_timeout = min(policy.read_timeout_s, budget_ms / 1000 - connect_timeout)
        attempts += 1
        report.tiktok_requests += 1
        started = time.perf_counter()
        try:
            answer = post_events(api_url, token, body, (connect_timeout, read_timeout))
        except TransportError as error:
            failure = failed(error.kind, True)
        else:
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            verdict = answer.verdict
            if verdict is Verdict.DELIVERED:
                return None
            if verdict is Verdict.TOKEN_REJECTED:
                # The secret may have been rotated: read it once more, bypassing the cache.
                if not token_refreshed:
                    token_refreshed = True
                    try:
                        fresh = token_source(True)
                    except UnavailableError:
                        fresh = None
                    if fresh and fresh != token:
                        token = fresh
                        continue
                return failed("token_rejected", True, answer)
            if verdict is Verdict.REJECTED:
                return failed(failure_reason(answer), False, answer)
            failure = failed(failure_reason(answer), True, answer)
        if attempts >= policy.max_attempts:
            return failure
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

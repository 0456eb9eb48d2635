"""Delivery to TikTok with retries inside the Lambda deadline, then the dead-letter queue.

Every event handed to `deliver` ends forwarded, dead-lettered, or counted as `unaccounted` (neither;
the handler then answers 503 so that mParticle resends the batch). On the way:

- a partial success (20001) forwards the request's events except those TikTok names as failed, which
  are dead-lettered as `rejected`;
- a 40002 refusal of several events is split in halves and each half sent again, down to the events
  TikTok refuses alone (at most 2·k·⌈log2 n⌉ + 1 requests for k bad events among n): one bad event
  does not sink the others;
- dead letters are written together at the end, in batches; the time kept back for them grows with
  their number, and the invocation ends before the Lambda deadline whatever TikTok or SQS do.
"""

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from tiktok_connector.delivery.dead_letter_writer import batches_needed, write_dead_letters
from tiktok_connector.delivery.dead_letters import DeadLetter, DeliveryFailure, dead_letter_messages
from tiktok_connector.delivery.partial import failed_events
from tiktok_connector.delivery.report import (
    PARTIAL_SUCCESS_WARNING,
    DeliveryReport,
    account,
    delivery_failure,
    hand_back,
)
from tiktok_connector.delivery.settlement import (
    FailedParts,
    can_split,
    event_ids,
    halves,
    is_partial,
    partial_failure,
    partition,
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
    """With the connect timeout, the most one POST may take, its whole answer included."""
    reserve_ms: int = 2500
    """Time kept back before the Lambda deadline for a first batch of dead letters and the answer."""
    min_attempt_ms: int = 1000
    reserve_per_batch_ms: int = 400
    """Time kept back, on top, for each further batch of dead letters waiting to be written."""
    answer_ms: int = 250
    """Time kept back after the dead letters, for the answer itself."""


RETRY_POLICY: Final = RetryPolicy()


@dataclass(frozen=True, slots=True)
class _Sent:
    answer: TikTokAnswer | None
    failure: DeliveryFailure | None
    """None when TikTok accepted the request (code 0 or 20001)."""
    attempts: int = 0


@dataclass(slots=True)
class _Letters:
    """Letters of one kind of failure of one request, waiting to be written."""

    failure: DeliveryFailure
    events: int
    letters: list[DeadLetter]


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
    bucket: str | None = None,
) -> DeliveryReport:
    """Send each request; what cannot be delivered goes to the dead-letter queue (via S3 if huge)."""
    run = _Delivery(api_url, token_source, remaining_ms, origin, token_from_request, policy or RETRY_POLICY)
    for request in requests:
        run.deliver(request)
    run.write(queue_url, bucket)
    return run.report


class _Delivery:
    def __init__(
        self,
        api_url: str,
        token_source: TokenSource,
        remaining_ms: Callable[[], int],
        origin: str,
        token_from_request: bool,
        policy: RetryPolicy,
    ) -> None:
        self.api_url = api_url
        self.token_source = token_source
        self.remaining_ms = remaining_ms
        self.origin = origin
        self.token_from_request = token_from_request
        self.policy = policy
        self.report = DeliveryReport()
        self.waiting: list[_Letters] = []
        self._waiting_batches = 0

    def deliver(self, request: TikTokRequest) -> None:
        failed = FailedParts(request)
        self._settle(request, failed)
        for part, failure in failed.gathered():
            self._dispose(part, failure)

    def _settle(self, part: TikTokRequest, failed: FailedParts) -> None:
        """Send one part; forward what TikTok kept, split a 40002 refusal, gather what failed."""
        sent = self._send_with_retries(part)
        if sent.failure is None:
            if is_partial(sent.answer):
                assert sent.answer is not None
                part = self._partial(part, sent.answer, sent.attempts, failed)
            if part.event_count:
                self.report.forwarded += part.event_count
                self.report.forwarded_requests.append(part)
            return
        failure = sent.failure
        if can_split(part, failure):
            if self._budget_ms() >= self.policy.min_attempt_ms:
                self.report.splits += 1
                for half in halves(part):
                    self._settle(half, failed)
                return
            # No time to look for the bad events: kept as it is, worth replaying for its good ones.
            failure = replace(failure, retryable=True)
        failed.add(part, failure)

    def _partial(
        self, part: TikTokRequest, answer: TikTokAnswer, attempts: int, failed: FailedParts
    ) -> TikTokRequest:
        """A 20001 answer: the events it names as failed are dead-lettered; returns the ones kept."""
        self.report.warnings[PARTIAL_SUCCESS_WARNING] += 1
        refused = failed_events(answer.data, event_ids(part))
        if not refused:
            return part
        kept, lost = partition(part, refused)
        failed.add(lost, partial_failure(answer, refused, attempts=attempts, at=time.time()))
        return kept

    def _send_with_retries(self, request: TikTokRequest) -> _Sent:
        body = encode_request_body(request.body)
        first_attempt_at = time.time()
        attempts = 0

        def failed(outcome: Outcome, answer: TikTokAnswer | None = None) -> _Sent:
            return _Sent(
                answer,
                delivery_failure(outcome, answer, attempts=attempts, first_attempt_at=first_attempt_at),
            )

        try:
            token = self.token_source(False)
        except UnavailableError:
            return failed(SECRET_UNAVAILABLE)
        if not token:
            return failed(TOKEN_MISSING)

        last: _Sent | None = None
        while True:
            sent = post_request(
                self.api_url, body, token=token, token_source=self.token_source, timeouts=self._timeouts
            )
            token = sent.token
            attempts += sent.posts
            self.report.tiktok_requests += sent.posts
            self.report.latencies_ms.extend(sent.latencies_ms)
            if sent.outcome.accepted:
                return _Sent(sent.answer, None, attempts)
            if sent.outcome is DEADLINE_EXCEEDED:
                return last or failed(sent.outcome)
            last = failed(sent.outcome, sent.answer)
            if sent.outcome.verdict is not Verdict.RETRY or attempts >= self.policy.max_attempts:
                return last  # refused, or the token was rejected even after a refresh, or attempts used up
            delay_s = random.uniform(
                0, min(self.policy.max_delay_s, self.policy.base_delay_s * 2 ** (attempts - 1))
            )
            if self._budget_ms() < delay_s * 1000 + self.policy.min_attempt_ms:
                return last
            time.sleep(delay_s)
            self.report.retries += 1

    def _budget_ms(self) -> float:
        """Time TikTok may still have: what is left after the reserve for the waiting dead letters."""
        reserve = self.policy.reserve_ms + self.policy.reserve_per_batch_ms * self._waiting_batches
        return self.remaining_ms() - reserve

    def _timeouts(self) -> Timeouts | None:
        """Each POST's timeouts: never past the budget, or the dead letters would miss the deadline."""
        budget_ms = self._budget_ms()
        if budget_ms < self.policy.min_attempt_ms:
            return None
        connect_timeout = min(self.policy.connect_timeout_s, budget_ms / 2000)
        return connect_timeout, min(self.policy.read_timeout_s, budget_ms / 1000 - connect_timeout)

    def _dispose(self, part: TikTokRequest, failure: DeliveryFailure) -> None:
        if self.token_from_request and failure.retryable and failure.reason != "token_rejected":
            hand_back(part, failure, self.report)
            return
        if self.token_from_request:
            # Only mParticle holds the request's token (never stored): no replay could send this.
            failure = replace(failure, retryable=False)
        letters = dead_letter_messages(
            part, failure, origin=self.origin, token_from_request=self.token_from_request
        )
        self.waiting.append(_Letters(failure, part.event_count, letters))
        self._waiting_batches = batches_needed([letter for kind in self.waiting for letter in kind.letters])

    def write(self, queue_url: str, bucket: str | None) -> None:
        """Write every waiting letter the time allows; account for each of their events."""
        letters = [letter for kind in self.waiting for letter in kind.letters]
        if not letters:
            return
        result = write_dead_letters(
            letters,
            queue_url=queue_url,
            bucket=bucket,
            seconds_left=lambda: (self.remaining_ms() - self.policy.answer_ms) / 1000,
        )
        position = 0
        for kind in self.waiting:
            flags = result.written[position : position + len(kind.letters)]
            position += len(kind.letters)
            written = sum(letter.event_count for letter, ok in zip(kind.letters, flags, strict=True) if ok)
            account(kind.failure, kind.events, written, self.report)
        if result.problems:
            logger.error(
                "events neither delivered nor dead-lettered",
                extra={"unaccounted_letters": dict(result.problems), "unaccounted": self.report.unaccounted},
            )

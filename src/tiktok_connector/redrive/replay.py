"""The redrive: replays retryable dead letters to TikTok and parks what cannot be replayed (SPEC 4, 5).

Each dead letter is a complete TikTok request body, re-sent unchanged (same event ids, so TikTok
deduplicates whatever it had already accepted). A message leaves the dead-letter queue only after its
successor exists: TikTok accepted it, or it was re-queued with `redrive_attempts` + 1, or it was
written to the parking queue. Anything else stays in the queue for the next run.
"""

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tiktok_connector.config import get_settings
from tiktok_connector.delivery.dead_letters import (
    ATTRIBUTE_ALLOWANCE,
    MESSAGE_VERSION,
    SQS_MESSAGE_LIMIT,
    DeliveryFailure,
    dead_letter_messages,
    sqs_client,
)
from tiktok_connector.delivery.deliver import RETRY_POLICY, TokenSource, failure_reason
from tiktok_connector.delivery.tiktok_client import (
    TikTokAnswer,
    TransportError,
    Verdict,
    encode_request_body,
    post_events,
)
from tiktok_connector.model.tiktok import JsonObject, SourceRef, TikTokRequest
from tiktok_connector.platform.errors import ConfigurationError, UnavailableError
from tiktok_connector.platform.observability import logger, metrics, tracer
from tiktok_connector.platform.secret_store import get_connector_secret

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DEFAULT_MAX_ATTEMPTS: Final = 5
REQUEST_TOKEN_NOT_STORED: Final = "request_token_not_stored"  # noqa: S105 - a reason, not a secret
RECEIVE_BATCH: Final = 10
MESSAGE_BUDGET_MS: Final = 20_000
"""Time one message may need (two POSTs after a token refresh, then its SQS writes): not started below it."""
FAILURES_BEFORE_STOP: Final = 3
"""Consecutive retryable failures that mean TikTok is down: the run stops instead of burning attempts."""
PLAN_LIMIT: Final = 100


@dataclass(frozen=True, slots=True)
class RedriveSettings:
    secret_id: str
    queue_url: str
    parking_queue_url: str | None
    api_url: str
    max_attempts: int


def load_redrive_settings(environ: Mapping[str, str] | None = None) -> RedriveSettings:
    """The shared settings (SECRET_ID, DEAD_LETTER_QUEUE_URL, TIKTOK_API_URL) plus the redrive's own."""
    environ = os.environ if environ is None else environ
    shared = get_settings()
    raw_attempts = environ.get("REDRIVE_MAX_ATTEMPTS", "").strip() or str(DEFAULT_MAX_ATTEMPTS)
    try:
        max_attempts = int(raw_attempts)
    except ValueError:
        max_attempts = 0
    if max_attempts < 1:
        raise ConfigurationError(
            f"REDRIVE_MAX_ATTEMPTS must be a whole number of at least 1, not {raw_attempts!r}"
        )
    parking = environ.get("PARKING_QUEUE_URL", "").strip() or None
    if parking is not None and not parking.startswith(("https://", "http://")):
        raise ConfigurationError("PARKING_QUEUE_URL must be an SQS queue URL")
    if parking == shared.dead_letter_queue_url:
        raise ConfigurationError("PARKING_QUEUE_URL must not be the dead-letter queue itself")
    return RedriveSettings(
        secret_id=shared.secret_id,
        queue_url=shared.dead_letter_queue_url,
        parking_queue_url=parking,
        api_url=shared.tiktok_api_url,
        max_attempts=max_attempts,
    )


@dataclass(slots=True)
class RedriveReport:
    """What a run did. `messages_read` = redriven + parked + requeued + left, always."""

    dry_run: bool
    messages_read: int = 0
    messages_redriven: int = 0
    events_redriven: int = 0
    parked: Counter[str] = field(default_factory=Counter)
    requeued: Counter[str] = field(default_factory=Counter)
    left: Counter[str] = field(default_factory=Counter)
    delete_failures: int = 0
    stopped: str | None = None
    would_send_messages: int = 0
    would_send_events: int = 0
    would_park: Counter[str] = field(default_factory=Counter)
    plan: list[dict[str, object]] = field(default_factory=list)

    @property
    def accounted(self) -> int:
        return self.messages_redriven + self.parked.total() + self.requeued.total() + self.left.total()

    def to_dict(self) -> dict[str, object]:
        document: dict[str, object] = {
            "dry_run": self.dry_run,
            "messages_read": self.messages_read,
            "redriven": {"messages": self.messages_redriven, "events": self.events_redriven},
            "parked": dict(sorted(self.parked.items())),
            "requeued": dict(sorted(self.requeued.items())),
            "left": dict(sorted(self.left.items())),
            "stopped": self.stopped,
        }
        if self.delete_failures:
            document["delete_failures"] = self.delete_failures
        if self.dry_run:
            document["would_send"] = {"messages": self.would_send_messages, "events": self.would_send_events}
            document["would_park"] = dict(sorted(self.would_park.items()))
            document["plan"] = self.plan
            document["plan_truncated"] = self.messages_read > len(self.plan)
        return document


@dataclass(frozen=True, slots=True)
class _Letter:
    """A dead letter that can be understood (the format `dead_letters.py` writes)."""

    request: JsonObject
    sources: list[SourceRef]
    reason: str
    retryable: bool
    attempts: int
    redrive_attempts: int
    origin: str
    first_attempt_at: float
    token_from_request: bool = False
    """A Firehose request's own token was used; a replay can only use the connector's secret."""

    @property
    def event_count(self) -> int:
        return len(self.sources)

    @property
    def event_ids(self) -> list[str]:
        data = self.request["data"]
        assert isinstance(data, list)
        return [str(item.get("event_id")) for item in data if isinstance(item, dict)]


def parse_letter(body: str) -> _Letter | None:
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
    data, events = request.get("data"), source.get("events")
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        return None
    if not isinstance(events, list) or len(events) != len(data):
        return None
    try:
        sources = [SourceRef(**event) for event in events]
    except TypeError:
        return None
    if not all(isinstance(ref.event_id, str) for ref in sources):
        return None
    try:
        first_attempt_at = datetime.fromisoformat(str(document.get("first_attempt_at"))).timestamp()
    except ValueError:
        first_attempt_at = time.time()
    return _Letter(
        request=request,
        sources=sources,
        reason=reason,
        retryable=retryable or reason == "token_rejected",  # retryable once the secret is fixed
        attempts=attempts,
        redrive_attempts=redrive_attempts,
        origin=str(source.get("origin") or "unknown"),
        token_from_request=source.get("access_token") == "request",
        first_attempt_at=first_attempt_at,
    )


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _StopError(Exception):
    """The run cannot go on (deadline, TikTok down, secret unreadable, SQS failing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redrive(
    *,
    queue_url: str,
    parking_queue_url: str | None,
    api_url: str,
    token_source: TokenSource,
    max_attempts: int,
    dry_run: bool,
    max_messages: int | None,
    remaining_ms: Callable[[], int],
    wait_time_s: int = 1,
) -> RedriveReport:
    """Replay the dead-letter queue once through; messages are read in batches of 10.

    Without a parking queue, letters that cannot be replayed stay in the dead-letter queue (counted
    in `left` by reason). A dry run sends nothing to TikTok and changes no queue.
    """
    run = _Run(
        queue_url=queue_url,
        parking_queue_url=parking_queue_url,
        api_url=api_url,
        token_source=token_source,
        max_attempts=max_attempts,
        dry_run=dry_run,
        remaining_ms=remaining_ms,
    )
    try:
        run.loop(max_messages, wait_time_s)
    finally:
        run.release_held()
    return run.report


class _Run:
    def __init__(
        self,
        *,
        queue_url: str,
        parking_queue_url: str | None,
        api_url: str,
        token_source: TokenSource,
        max_attempts: int,
        dry_run: bool,
        remaining_ms: Callable[[], int],
    ) -> None:
        self.queue_url = queue_url
        self.parking_queue_url = parking_queue_url
        self.api_url = api_url
        self.token_source = token_source
        self.max_attempts = max_attempts
        self.dry_run = dry_run
        self.remaining_ms = remaining_ms
        self.report = RedriveReport(dry_run=dry_run)
        self.sqs = sqs_client()
        self.token: str | None = None
        self.consecutive_failures = 0
        # Receipts of messages kept in the queue: hidden until the run ends so that none is read
        # twice, then made visible again.
        self.held: list[str] = []
        # Messages this run wrote to the queue (re-queued letters): never handled again in the same run.
        self.own_message_ids: set[str] = set()

    def loop(self, max_messages: int | None, wait_time_s: int) -> None:
        while max_messages is None or self.report.messages_read < max_messages:
            if self.remaining_ms() < MESSAGE_BUDGET_MS:
                self.report.stopped = "deadline"
                return
            wanted = RECEIVE_BATCH if max_messages is None else max_messages - self.report.messages_read
            try:
                batch = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=min(RECEIVE_BATCH, wanted),
                    WaitTimeSeconds=wait_time_s,
                    VisibilityTimeout=self._visibility_timeout_s(),
                ).get("Messages", [])
            except Exception as error:  # a run that cannot read the queue has nothing to do
                logger.warning("dead-letter queue unreadable", extra={"error_type": type(error).__name__})
                self.report.stopped = "sqs_unavailable"
                return
            if not batch:
                return
            for index, message in enumerate(batch):
                if message.get("MessageId") in self.own_message_ids:
                    self.held.append(message["ReceiptHandle"])
                    continue
                self.report.messages_read += 1
                try:
                    stop = self._handle(message)
                except _StopError as error:  # this message was not handled: it stays
                    stop = error.reason
                    self._leave(message, stop)
                if stop is not None:
                    self.report.stopped = stop
                    self._leave_all(batch[index + 1 :], stop)
                    return

    def _leave_all(self, messages: "list[MessageTypeDef]", reason: str) -> None:
        for message in messages:
            if message.get("MessageId") in self.own_message_ids:
                self.held.append(message["ReceiptHandle"])
            else:
                self.report.messages_read += 1
                self._leave(message, reason)

    def _visibility_timeout_s(self) -> int:
        # Long enough that a message received now stays hidden for the rest of the run.
        return int(min(43_200, max(30, self.remaining_ms() / 1000 + 30)))

    def _handle(self, message: "MessageTypeDef") -> str | None:
        """Handle one message; returns why the run must stop after it, if it must."""
        if self.remaining_ms() < MESSAGE_BUDGET_MS:
            raise _StopError("deadline")
        body = message.get("Body", "")
        letter = parse_letter(body)
        if letter is None:
            self._park_or_leave(message, "malformed", body, None)
        elif not letter.retryable:
            self._park_or_leave(message, letter.reason, body, letter)
        elif letter.redrive_attempts >= self.max_attempts:
            self._park_or_leave(message, "attempts_exhausted", body, letter)
        elif self.dry_run:
            self.report.would_send_messages += 1
            self.report.would_send_events += letter.event_count
            self._plan(message, "send", letter.reason, letter)
            self._leave(message, "dry_run")
        else:
            return self._replay(message, letter)
        return None

    def _replay(self, message: "MessageTypeDef", letter: _Letter) -> str | None:
        failure = self._post(letter)
        if failure is None:
            self.consecutive_failures = 0
            self.report.messages_redriven += 1
            self.report.events_redriven += letter.event_count
            self._delete(message)
            return None
        redrive_attempts = letter.redrive_attempts + 1
        bodies = [
            updated.body
            for updated in dead_letter_messages(
                TikTokRequest(body=letter.request, sources=letter.sources),
                failure,
                origin=letter.origin,
                redrive_attempts=redrive_attempts,
                token_from_request=letter.token_from_request,
            )
        ]
        if letter.token_from_request and failure.reason in {"token_rejected", "no_permission"}:
            # The secret's token does not serve this connection's pixel, and its own was never stored:
            # park it instead of stopping the run for every other letter.
            self.consecutive_failures = 0
            self._park(message, REQUEST_TOKEN_NOT_STORED, bodies, retryable=True)
            return None
        if not failure.retryable:
            # TikTok answered and refused the request itself: replaying it again would not help.
            self.consecutive_failures = 0
            self._park(message, failure.reason, bodies, retryable=False)
            return None
        if redrive_attempts >= self.max_attempts:
            self._park(message, "attempts_exhausted", bodies, retryable=True)
        else:
            self._write(self.queue_url, bodies, failure.reason, retryable=True, own=True)
            self.report.requeued[failure.reason] += 1
            self._delete(message)
        self.consecutive_failures += 1
        if failure.reason == "token_rejected":
            return "token_rejected"  # every other letter would meet the same token
        if self.consecutive_failures >= FAILURES_BEFORE_STOP:
            return "tiktok_unavailable"
        return None

    def _post(self, letter: _Letter) -> DeliveryFailure | None:
        """One POST of the stored body (a second one after a token refresh, like delivery does)."""
        body = encode_request_body(letter.request)
        token = self._current_token()
        attempts = 0
        refreshed = False

        def failed(reason: str, retryable: bool, answer: TikTokAnswer | None = None) -> DeliveryFailure:
            return DeliveryFailure(
                reason=reason,
                retryable=retryable,
                attempts=letter.attempts + attempts,
                first_attempt_at=letter.first_attempt_at,
                last_attempt_at=time.time(),
                http_status=answer.http_status if answer else None,
                tiktok_code=answer.code if answer else None,
                message=answer.message if answer else "",
                request_id=answer.request_id if answer else None,
            )

        while True:
            attempts += 1
            try:
                answer = post_events(
                    self.api_url, token, body, (RETRY_POLICY.connect_timeout_s, RETRY_POLICY.read_timeout_s)
                )
            except TransportError as error:
                return failed(error.kind, True)
            verdict = answer.verdict
            if verdict is Verdict.DELIVERED:
                return None
            if verdict is Verdict.TOKEN_REJECTED:
                if not refreshed:
                    refreshed = True
                    try:
                        fresh = self.token_source(True)
                    except UnavailableError:
                        fresh = None
                    if fresh and fresh != token:
                        self.token = token = fresh
                        continue
                return failed("token_rejected", True, answer)
            return failed(failure_reason(answer), verdict is Verdict.RETRY, answer)

    def _current_token(self) -> str:
        if self.token is None:
            try:
                self.token = self.token_source(False)
            except UnavailableError:
                raise _StopError("secret_unavailable") from None
            if not self.token:
                raise _StopError("token_missing")
        return self.token

    def _park_or_leave(
        self, message: "MessageTypeDef", reason: str, body: str, letter: _Letter | None
    ) -> None:
        """A letter the redrive will not send: to the parking queue, or left where it is without one."""
        if self.dry_run:
            self.report.would_park[reason] += 1
            self._plan(message, "park", reason, letter)
            self._leave(message, "dry_run")
        elif self.parking_queue_url is None:
            self._leave(message, reason)
        else:
            self._park(message, reason, [body], retryable=letter.retryable if letter else None)

    def _park(
        self, message: "MessageTypeDef", reason: str, bodies: list[str], *, retryable: bool | None
    ) -> None:
        if self.parking_queue_url is None:
            # Without a parking queue the updated letter goes back to the dead-letter queue instead.
            self._write(self.queue_url, bodies, reason, retryable=bool(retryable), own=True)
            self.report.requeued[reason] += 1
        else:
            parked = [_parked_text(body, reason) for body in bodies]
            self._write(self.parking_queue_url, parked, reason, retryable=retryable)
            self.report.parked[reason] += 1
        self._delete(message)

    def _write(
        self, queue_url: str, bodies: list[str], reason: str, *, retryable: bool | None, own: bool = False
    ) -> None:
        """Send every body, raising _StopError if one fails (the original then stays where it is)."""
        attributes: dict[str, Any] = {"reason": {"DataType": "String", "StringValue": reason}}
        if retryable is not None:
            attributes["retryable"] = {"DataType": "String", "StringValue": str(retryable).lower()}
        for body in bodies:
            try:
                sent = self.sqs.send_message(
                    QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes
                )
            except Exception as error:  # any SQS failure: keep the original, stop the run
                logger.warning("queue write failed", extra={"error_type": type(error).__name__})
                raise _StopError("sqs_unavailable") from None
            if own:
                self.own_message_ids.add(sent["MessageId"])

    def _delete(self, message: "MessageTypeDef") -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:  # it reappears after its visibility timeout; TikTok deduplicates
            logger.warning(
                "dead letter not deleted",
                extra={"message_id": message.get("MessageId"), "error_type": type(error).__name__},
            )
            self.report.delete_failures += 1

    def _leave(self, message: "MessageTypeDef", reason: str) -> None:
        self.report.left[reason] += 1
        self.held.append(message["ReceiptHandle"])

    def _plan(self, message: "MessageTypeDef", action: str, reason: str, letter: _Letter | None) -> None:
        if len(self.report.plan) >= PLAN_LIMIT:
            return
        entry: dict[str, object] = {
            "message_id": message.get("MessageId"),
            "action": action,
            "reason": reason,
        }
        if letter is not None:
            entry.update(
                events=letter.event_count,
                event_ids=letter.event_ids,
                redrive_attempts=letter.redrive_attempts,
                dead_letter_reason=letter.reason,
            )
        self.report.plan.append(entry)

    def release_held(self) -> None:
        """Make the messages left in the queue visible again for the next run."""
        for start in range(0, len(self.held), RECEIVE_BATCH):
            chunk = self.held[start : start + RECEIVE_BATCH]
            try:
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                        for index, receipt in enumerate(chunk)
                    ],
                )
            except Exception as error:  # they become visible anyway when their timeout ends
                logger.warning("messages not released", extra={"error_type": type(error).__name__})
        self.held.clear()


def _parked_text(body: str, reason: str) -> str:
    """The letter with why and when it was parked; unchanged if it is not a letter or would not fit."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict):
        return body
    document["parked_reason"] = reason
    document["parked_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    text = json.dumps(document, separators=(",", ":"))
    if len(text.encode("utf-8")) + ATTRIBUTE_ALLOWANCE > SQS_MESSAGE_LIMIT:
        return body
    return text


def run_from_environment(
    *, dry_run: bool, max_messages: int | None, remaining_ms: Callable[[], int], wait_time_s: int = 1
) -> RedriveReport:
    """A redrive configured by the environment (the Lambda function and `make redrive --use-env`)."""
    settings = load_redrive_settings()

    def token_source(force_fetch: bool) -> str | None:
        return get_connector_secret(settings.secret_id, force_fetch=force_fetch).tiktok_access_token

    return redrive(
        queue_url=settings.queue_url,
        parking_queue_url=settings.parking_queue_url,
        api_url=settings.api_url,
        token_source=token_source,
        max_attempts=settings.max_attempts,
        dry_run=dry_run,
        max_messages=max_messages,
        remaining_ms=remaining_ms,
        wait_time_s=wait_time_s,
    )


def invocation_options(event: object) -> tuple[bool, int | None]:
    """`{"dry_run": true, "max_messages": N}` from a manual invocation; a schedule event has neither."""
    if not isinstance(event, dict):
        return False, None
    dry_run = event.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValueError("dry_run must be true or false")
    max_messages = event.get("max_messages")
    if max_messages is not None and (
        not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1
    ):
        raise ValueError("max_messages must be a whole number of at least 1")
    return dry_run, max_messages


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    """Run once through the dead-letter queue and answer the report (logged and counted too)."""
    dry_run, max_messages = invocation_options(event)
    report = run_from_environment(
        dry_run=dry_run, max_messages=max_messages, remaining_ms=context.get_remaining_time_in_millis
    )
    # A dry run changes nothing: its counts are all zero.
    metrics.add_metric(name="EventsRedriven", unit=MetricUnit.Count, value=report.events_redriven)
    metrics.add_metric(name="DeadLettersRedriven", unit=MetricUnit.Count, value=report.messages_redriven)
    metrics.add_metric(name="DeadLettersParked", unit=MetricUnit.Count, value=report.parked.total())
    metrics.add_metric(name="DeadLettersRequeued", unit=MetricUnit.Count, value=report.requeued.total())
    summary = report.to_dict()
    if report.stopped in (None, "deadline"):
        logger.info("redrive finished", extra={"report": summary})
    else:
        logger.warning("redrive stopped early", extra={"report": summary})
    return summary

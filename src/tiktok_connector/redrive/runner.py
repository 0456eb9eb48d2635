"""The redrive's loop: reads the dead-letter queue, carries out each decision, replays to TikTok.

Each dead letter is a complete TikTok request body, re-sent unchanged (same event ids, so TikTok
deduplicates whatever it had already accepted). A message leaves the dead-letter queue only after its
successor exists: TikTok accepted it, or it was re-queued with `redrive_attempts` + 1, or it was
written to the parking queue. Anything else stays in the queue for the next run. What to do with each
letter is decided in `decisions.py`; this module does the I/O. A message that points to a letter in S3
is read through the pointer (`pointers.py`).
"""

from collections.abc import Callable, Sequence
from typing import Final

from tiktok_connector.delivery.report import delivery_failure
from tiktok_connector.delivery.tiktok_client import TokenSource
from tiktok_connector.platform.observability import logger
from tiktok_connector.platform.secret_store import get_connector_secret
from tiktok_connector.redrive.decisions import (
    Action,
    Decision,
    decide_after_failure,
    decide_letter,
    streak_after,
)
from tiktok_connector.redrive.letters import (
    Letter,
    parked_text,
    parse_letter,
    split_successor_bodies,
    successor_bodies,
)
from tiktok_connector.redrive.moves import SQS_UNAVAILABLE, MoveError, Mover
from tiktok_connector.redrive.pointers import PAYLOAD_MISSING, Opened, PayloadError, open_message
from tiktok_connector.redrive.queues import BATCH, Message, Queues
from tiktok_connector.redrive.replay import NoTokenError, Replayer
from tiktok_connector.redrive.report import RedriveReport
from tiktok_connector.redrive.settings import load_redrive_settings

MESSAGE_BUDGET_MS: Final = 20_000
"""Time one message may need (two POSTs after a token refresh, then its SQS writes): not started below it."""
DEADLINE: Final = "deadline"


class _StopError(Exception):
    """The run has no time left for the current message: it stays."""

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
    bucket: str | None = None,
) -> RedriveReport:
    """Replay the dead-letter queue once through; messages are read in batches of 10.

    `bucket` takes letters that have grown past one SQS message (a pointer's own object is reused).

    Without a parking queue, letters that cannot be replayed stay in the dead-letter queue (counted
    in `left` by reason). A dry run sends nothing to TikTok and changes no queue.
    """
    run = _Run(
        queues=Queues(queue_url),
        parking_queue_url=parking_queue_url,
        api_url=api_url,
        token_source=token_source,
        max_attempts=max_attempts,
        dry_run=dry_run,
        remaining_ms=remaining_ms,
        bucket=bucket,
    )
    try:
        run.loop(max_messages, wait_time_s)
    finally:
        run.release_held()
    return run.report


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
        bucket=settings.bucket,
    )


class _Run:
    def __init__(
        self,
        *,
        queues: Queues,
        parking_queue_url: str | None,
        api_url: str,
        token_source: TokenSource,
        max_attempts: int,
        dry_run: bool,
        remaining_ms: Callable[[], int],
        bucket: str | None = None,
    ) -> None:
        self.queues = queues
        self.bucket = bucket
        self.parking_queue_url = parking_queue_url
        self.replayer = Replayer(api_url, token_source)
        self.max_attempts = max_attempts
        self.dry_run = dry_run
        self.remaining_ms = remaining_ms
        self.report = RedriveReport(dry_run=dry_run)
        self.mover = Mover(queues, bucket, self.report)
        self.streak = 0
        # Receipts of messages kept in the queue: hidden until the run ends so that none is read
        # twice, then made visible again.
        self.held: list[str] = []
        # Messages this run wrote to the queue (re-queued letters): never handled again in the same run.
        self.own_message_ids: set[str] = set()

    def loop(self, max_messages: int | None, wait_time_s: int) -> None:
        while max_messages is None or self.report.messages_read < max_messages:
            if self.remaining_ms() < MESSAGE_BUDGET_MS:
                self.report.stopped = DEADLINE
                return
            wanted = BATCH if max_messages is None else max_messages - self.report.messages_read
            try:
                # Hidden long enough that a message received now stays hidden for the rest of the run.
                visibility_s = int(max(30, self.remaining_ms() / 1000 + 30))
                batch = self.queues.receive(wanted, wait_time_s=wait_time_s, visibility_s=visibility_s)
            except Exception as error:  # a run that cannot read the queue has nothing to do
                logger.warning("dead-letter queue unreadable", extra={"error_type": type(error).__name__})
                self.report.stopped = SQS_UNAVAILABLE
                return
            if not batch:
                return
            self.report.stopped = self._handle_batch(batch)
            if self.report.stopped is not None:
                return

    def _handle_batch(self, batch: Sequence[Message]) -> str | None:
        """Handle each message in turn; once one says the run must stop, the rest stay in the queue."""
        stop: str | None = None
        for message in batch:
            if message.message_id in self.own_message_ids:
                self.held.append(message.receipt)
                continue
            self.report.messages_read += 1
            if stop is not None:
                self._leave(message, stop)
                continue
            try:
                stop = self._handle(message)
            except (_StopError, MoveError, NoTokenError) as error:  # this message was not handled: it stays
                stop = error.reason
                self._leave(message, stop)
        return stop

    def _handle(self, message: Message) -> str | None:
        """Carry out the decision on one message; returns why the run must stop after it, if it must."""
        if self.remaining_ms() < MESSAGE_BUDGET_MS:
            raise _StopError(DEADLINE)
        try:
            opened = open_message(message.body)
        except PayloadError as error:
            self._unreadable(message, error.reason)
            return None
        letter = parse_letter(opened.text)
        # A dry run plans as a run with a parking queue would act.
        parking = self.parking_queue_url is not None or self.dry_run
        decision = decide_letter(letter, max_attempts=self.max_attempts, parking=parking)
        if self.dry_run:
            self.report.add_to_plan(message.message_id, decision, letter)
            self._leave(message, "dry_run")
        elif decision.action is Action.SEND and letter is not None:
            return self._replay(message, opened, letter)
        elif decision.action is Action.PARK:
            self._park(
                message,
                opened,
                [opened.text],
                decision.reason,
                retryable=letter.retryable if letter else None,
            )
        else:
            self._leave(message, decision.reason)
        return None

    def _unreadable(self, message: Message, reason: str) -> None:
        """A pointer whose letter cannot be read: parked when it is gone for good, else left for later."""
        if reason == PAYLOAD_MISSING and self.parking_queue_url is not None and not self.dry_run:
            self._park(message, Opened(message.body), [message.body], reason, retryable=None)
        else:
            self._leave(message, reason)

    def _replay(self, message: Message, opened: Opened, letter: Letter) -> str | None:
        sent = self.replayer.send(letter)
        if sent.outcome.accepted:
            self.streak = 0
            self.report.messages_redriven += 1
            self.report.events_redriven += letter.event_count
            self.mover.done(message, opened.pointer)  # the letter is done: its object goes with it
            return None
        failure = delivery_failure(
            sent.outcome,
            sent.answer,
            attempts=letter.attempts + sent.posts,
            first_attempt_at=letter.first_attempt_at,
        )
        halves = split_successor_bodies(letter, failure)
        if halves is not None:  # TikTok refused some of its events: each half is replayed on its own
            self.streak = 0
            self._carry_out(message, opened, Decision(Action.REQUEUE, failure.reason), halves, retryable=True)
            return None
        decision = decide_after_failure(
            letter,
            sent.outcome,
            max_attempts=self.max_attempts,
            parking=self.parking_queue_url is not None,
            streak=self.streak,
        )
        self.streak = streak_after(sent.outcome, self.streak)
        bodies = successor_bodies(letter, failure)
        self._carry_out(message, opened, decision, bodies, retryable=failure.retryable)
        return decision.stop

    def _carry_out(
        self, message: Message, opened: Opened, decision: Decision, bodies: list[str], *, retryable: bool
    ) -> None:
        if decision.action is Action.PARK:
            self._park(message, opened, bodies, decision.reason, retryable=retryable)
        else:
            url = self.queues.dead_letter_queue_url
            ids = self.mover.move(message, opened, url, bodies, reason=decision.reason, retryable=retryable)
            self.own_message_ids.update(ids)
            self.report.requeued[decision.reason] += 1

    def _park(
        self, message: Message, opened: Opened, bodies: list[str], reason: str, *, retryable: bool | None
    ) -> None:
        assert self.parking_queue_url is not None  # decisions park only when there is a parking queue
        storable = opened.pointer is not None or self.bucket is not None
        texts = [parked_text(body, reason, allow_oversized=storable) for body in bodies]
        self.mover.move(message, opened, self.parking_queue_url, texts, reason=reason, retryable=retryable)
        self.report.parked[reason] += 1

    def _leave(self, message: Message, reason: str) -> None:
        self.report.left[reason] += 1
        self.held.append(message.receipt)

    def release_held(self) -> None:
        """Make the messages left in the queue visible again for the next run."""
        self.queues.release(self.held)
        self.held.clear()

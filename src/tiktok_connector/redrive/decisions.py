"""What the redrive does with each dead letter, decided without I/O (the runner carries it out).

Like a record handler in Powertools' batch processing: these functions decide, `runner.py` owns the
queue, TikTok and the loop. Two questions: what to do with a letter just read (send it, park it with a
reason, or leave it in the queue), and what to do after a replay failed (re-queue it, park it, and
whether the run stops). A run stops for what every other letter would meet too (TikTok down, the
secret's token refused), never for one letter it cannot replay: that one is parked and the run goes on.
"""

import enum
from dataclasses import dataclass
from typing import Final

from tiktok_connector.delivery.tiktok_client import Outcome, Verdict
from tiktok_connector.redrive.letters import Letter

MALFORMED: Final = "malformed"
REQUEST_TOKEN_NOT_STORED: Final = "request_token_not_stored"  # noqa: S105 - a reason, not a secret
ATTEMPTS_EXHAUSTED: Final = "attempts_exhausted"
TOKEN_REJECTED: Final = "token_rejected"  # noqa: S105 - a stop reason, not a secret
TIKTOK_UNAVAILABLE: Final = "tiktok_unavailable"
FAILURES_BEFORE_STOP: Final = 3
"""Retryable failures in a row that mean TikTok is down: the run stops instead of burning attempts."""


class Action(enum.Enum):
    SEND = "send"
    PARK = "park"
    """Write it to the parking queue (marked with the reason), then delete it from the dead-letter queue."""
    LEAVE = "leave"
    """Keep it in the dead-letter queue as it is (no parking queue to move it to)."""
    REQUEUE = "requeue"
    """Write its successor to the dead-letter queue, then delete it."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    stop: str | None = None
    """Why the run stops after this letter, if it must."""


def decide_letter(letter: Letter | None, *, max_attempts: int, parking: bool) -> Decision:
    """A letter just read (None: not one this version can read): send it, or park or leave it with a reason.

    A letter first sent with a Firehose request's own token is never replayed: that token was not
    stored, and no other credential may stand in for it.
    """
    if letter is None:
        reason = MALFORMED
    elif letter.token_from_request:
        reason = REQUEST_TOKEN_NOT_STORED
    elif not letter.retryable:
        reason = letter.reason
    elif letter.redrive_attempts >= max_attempts:
        reason = ATTEMPTS_EXHAUSTED
    else:
        return Decision(Action.SEND, letter.reason)
    return Decision(Action.PARK if parking else Action.LEAVE, reason)


def streak_after(failure: Outcome, streak: int) -> int:
    """Retryable failures in a row; a refusal ends the streak (TikTok answered, so it is up)."""
    return streak + 1 if failure.retryable else 0


def decide_after_failure(
    letter: Letter, failure: Outcome, *, max_attempts: int, parking: bool, streak: int
) -> Decision:
    """A replay failed: re-queue the letter with one more attempt, or park it; and stop the run?

    `streak` counts the retryable failures in a row before this one. Without a parking queue, a letter
    to park goes back to the dead-letter queue with its new reason (the next run leaves it there).
    """
    if not failure.retryable:
        action, reason = Action.PARK, failure.reason  # TikTok refused the request itself
    elif letter.redrive_attempts + 1 >= max_attempts:
        action, reason = Action.PARK, ATTEMPTS_EXHAUSTED
    else:
        action, reason = Action.REQUEUE, failure.reason
    if action is Action.PARK and not parking:
        action = Action.REQUEUE
    return Decision(action, reason, _stop(failure, streak_after(failure, streak)))


def _stop(failure: Outcome, streak: int) -> str | None:
    if failure.verdict is Verdict.TOKEN_REJECTED:
        return TOKEN_REJECTED  # the secret's token: every other letter would meet it too
    if streak >= FAILURES_BEFORE_STOP:
        return TIKTOK_UNAVAILABLE
    return None

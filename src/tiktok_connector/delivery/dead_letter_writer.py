"""Writing dead letters to SQS within the time left: batches of up to 10, large letters via S3.

A letter that fits one message is sent as it is; one that does not (a single event over the limit) is
stored in S3 and its pointer is sent instead, or, without a bucket, stays unwritten. Messages go in
`send_message_batch` calls of at most 10 entries and at most SQS's limit in total. Entries SQS refuses
for a passing reason are sent again in a later round; those it refuses as the sender's fault are not.
No call starts, and no call is waited for, past the time given: what is left then stays unwritten,
for the caller to answer 503.
"""

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tiktok_connector.delivery.dead_letters import SQS_MESSAGE_LIMIT, DeadLetter, sqs_client
from tiktok_connector.delivery.letter_store import SIZE_ATTRIBUTE, new_pointer, put_letter
from tiktok_connector.platform.aws import CallTimedOutError, call_within
from tiktok_connector.platform.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH_ENTRIES: Final = 10
"""SQS's largest batch."""
ROUNDS: Final = 3
MIN_CALL_S: Final = 0.05
"""No call is started with less time than this left."""
TOO_LARGE: Final = "too_large_without_bucket"
REFUSED: Final = "refused"
NO_TIME: Final = "no_time_left"
UNAVAILABLE: Final = "unavailable"


@dataclass(slots=True)
class _Entry:
    index: int
    letter: DeadLetter
    message: DeadLetter | None = None
    """What goes in the queue: the letter, or its S3 pointer once stored (None until then)."""
    payload_size: int | None = None


@dataclass(slots=True)
class WriteResult:
    written: list[bool]
    """Per letter, in the order given: whether it is safely in the queue (or in S3 behind a pointer)."""
    problems: Counter[str] = field(default_factory=Counter)
    """Letters left unwritten, by why."""
    calls: int = 0
    objects: int = 0


def batches_needed(letters: Sequence[DeadLetter]) -> int:
    """How many `send_message_batch` calls (and S3 writes) these letters take at best."""
    sizes = [letter.size if letter.fits_one_message else 1024 for letter in letters]
    oversized = sum(1 for letter in letters if not letter.fits_one_message)
    return len(_pack(sizes)) + oversized


def write_dead_letters(
    letters: Sequence[DeadLetter], *, queue_url: str, bucket: str | None, seconds_left: Callable[[], float]
) -> WriteResult:
    """Write every letter it can in the time `seconds_left()` gives; see the module's docstring."""
    result = WriteResult(written=[False] * len(letters))
    pending = [_Entry(index, letter) for index, letter in enumerate(letters)]
    for round_number in range(ROUNDS):
        if not pending:
            break
        if round_number:
            _pause(round_number, seconds_left)
        pending = _round(pending, queue_url, bucket, seconds_left, result)
    if pending:
        result.problems[UNAVAILABLE] += len(pending)
    return result


def _round(
    entries: list[_Entry],
    queue_url: str,
    bucket: str | None,
    seconds_left: Callable[[], float],
    result: WriteResult,
) -> list[_Entry]:
    """One pass over the letters not yet written; returns those to try again."""
    ready: list[_Entry] = []
    again: list[_Entry] = []
    for entry in entries:
        if entry.message is None and entry.letter.fits_one_message:
            entry.message = entry.letter
        if entry.message is None:
            if bucket is None:
                result.problems[TOO_LARGE] += 1
                continue
            if not _offload(entry, bucket, seconds_left, result):
                again.append(entry)
                continue
        ready.append(entry)
    groups = _pack([_message_size(entry) for entry in ready])
    for position, group in enumerate(groups):
        batch = [ready[index] for index in group]
        if seconds_left() < MIN_CALL_S:
            for later in groups[position:]:
                result.problems[NO_TIME] += len(later)
            return []
        again.extend(_send_batch(batch, queue_url, seconds_left, result))
    return again


def _offload(entry: _Entry, bucket: str, seconds_left: Callable[[], float], result: WriteResult) -> bool:
    if seconds_left() < MIN_CALL_S:
        return False
    pointer = new_pointer(bucket)
    try:
        call_within(lambda: put_letter(pointer, entry.letter.body), seconds_left())
    except Exception as error:  # S3 unreachable or refusing: the letter stays unwritten for now
        logger.warning("dead letter not stored in S3", extra={"error_type": type(error).__name__})
        return False
    result.objects += 1
    entry.payload_size = len(entry.letter.body)
    entry.message = DeadLetter(
        pointer.body(), entry.letter.event_count, entry.letter.reason, entry.letter.retryable
    )
    return True


def _send_batch(
    batch: list[_Entry], queue_url: str, seconds_left: Callable[[], float], result: WriteResult
) -> list[_Entry]:
    """One `send_message_batch` call; returns the entries worth sending again."""
    entries = [_batch_entry(str(position), entry) for position, entry in enumerate(batch)]
    result.calls += 1
    try:
        answer: Any = call_within(
            lambda: sqs_client().send_message_batch(QueueUrl=queue_url, Entries=entries), seconds_left()
        )
    except CallTimedOutError:
        # It may still land: the resend mParticle makes after a 503 is deduplicated by TikTok on replay.
        logger.warning("dead-letter queue write timed out", extra={"messages": len(batch)})
        return batch
    except Exception as error:  # any SQS failure means these letters are not safe yet
        logger.warning("dead-letter queue write failed", extra={"error_type": type(error).__name__})
        return batch
    for success in answer.get("Successful", []):
        result.written[batch[int(success["Id"])].index] = True
    again: list[_Entry] = []
    for failure in answer.get("Failed", []):
        entry = batch[int(failure["Id"])]
        logger.warning(
            "dead letter refused by SQS",
            extra={"code": failure.get("Code"), "sender_fault": failure.get("SenderFault")},
        )
        if failure.get("SenderFault"):
            result.problems[REFUSED] += 1
        else:
            again.append(entry)
    return again


def _batch_entry(entry_id: str, entry: _Entry) -> "SendMessageBatchRequestEntryTypeDef":
    assert entry.message is not None
    attributes: dict[str, Any] = {
        "reason": {"DataType": "String", "StringValue": entry.letter.reason},
        "retryable": {"DataType": "String", "StringValue": str(entry.letter.retryable).lower()},
    }
    if entry.payload_size is not None:
        attributes[SIZE_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(entry.payload_size)}
    return {"Id": entry_id, "MessageBody": entry.message.body, "MessageAttributes": attributes}


def _message_size(entry: _Entry) -> int:
    assert entry.message is not None
    return entry.message.size


def _pack(sizes: Sequence[int]) -> list[list[int]]:
    """Positions grouped in order into batches of at most 10 entries and SQS's limit in total."""
    groups: list[list[int]] = []
    total = 0
    for position, size in enumerate(sizes):
        if not groups or len(groups[-1]) >= BATCH_ENTRIES or total + size > SQS_MESSAGE_LIMIT:
            groups.append([])
            total = 0
        groups[-1].append(position)
        total += size
    return groups


def _pause(round_number: int, seconds_left: Callable[[], float]) -> None:
    """A short jittered wait before sending again, when there is time for it."""
    delay = random.uniform(0, 0.05 * 2**round_number)
    if seconds_left() - delay > MIN_CALL_S:
        time.sleep(delay)

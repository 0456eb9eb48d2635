"""Following S3 pointers: dead letters too large for one SQS message are kept whole in S3.

A message may be a pointer (the SQS extended client's format, see `delivery/letter_store.py`) to the
letter's text in the dead-letter bucket. The redrive reads the text through it, and when it moves such a
letter on (re-queued or parked) it writes the successor's text to the same object, which restarts its
lifetime in a bucket that expires objects, and sends the same pointer on. The object is deleted only
once no message points to it any more: after TikTok accepted the letter, or after its successors went
elsewhere.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from botocore.exceptions import ClientError

from tiktok_connector.delivery.dead_letters import ATTRIBUTE_ALLOWANCE, SQS_MESSAGE_LIMIT
from tiktok_connector.delivery.letter_store import (
    S3Pointer,
    delete_letter,
    get_letter,
    new_pointer,
    parse_pointer,
    put_letter,
)
from tiktok_connector.platform.observability import logger
from tiktok_connector.redrive.queues import Outgoing

PAYLOAD_MISSING: Final = "payload_missing"
"""The pointer's object is gone (expired or deleted): nothing is left to replay."""
S3_UNAVAILABLE: Final = "s3_unavailable"
_MISSING_CODES: Final = frozenset({"NoSuchKey", "NoSuchBucket", "404"})


class PayloadError(Exception):
    """The letter behind a pointer could not be read (`reason`: missing for good, or S3 unavailable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreError(Exception):
    """A letter could not be written to S3 (the original message must stay where it is)."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A message's letter text, and the pointer it was read through (None: the message held it)."""

    text: str
    pointer: S3Pointer | None = None


def open_message(body: str) -> Opened:
    """The letter a message holds, read from S3 when the message is a pointer; raises PayloadError."""
    pointer = parse_pointer(body)
    if pointer is None:
        return Opened(body)
    try:
        return Opened(get_letter(pointer), pointer)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        reason = PAYLOAD_MISSING if code in _MISSING_CODES else S3_UNAVAILABLE
    except Exception:  # network or endpoint trouble: the next run may read it
        reason = S3_UNAVAILABLE
    logger.warning("dead letter behind a pointer not read", extra={"reason": reason})
    raise PayloadError(reason)


def outgoing(
    bodies: Sequence[str], *, reuse: S3Pointer | None, bucket: str | None
) -> tuple[list[Outgoing], bool]:
    """The messages for these letter texts, storing each one too large for SQS in S3 first.

    The first such text goes to `reuse`'s object (written again: its lifetime restarts), others to new
    objects. Returns the messages and whether `reuse`'s object is still pointed to. Without a bucket an
    oversized text is sent as it is (SQS refuses it and the original stays). Raises StoreError.
    """
    messages: list[Outgoing] = []
    reused = False
    for body in bodies:
        if len(body) + ATTRIBUTE_ALLOWANCE <= SQS_MESSAGE_LIMIT:
            messages.append(Outgoing(body))
            continue
        target_bucket = reuse.bucket if reuse is not None else bucket
        if target_bucket is None:
            messages.append(Outgoing(body))
            continue
        pointer = reuse if reuse is not None and not reused else new_pointer(target_bucket)
        reused = reused or pointer == reuse
        try:
            put_letter(pointer, body)
        except Exception as error:  # the original message keeps its letter
            logger.warning("dead letter not stored in S3", extra={"error_type": type(error).__name__})
            raise StoreError(type(error).__name__) from None
        messages.append(Outgoing(pointer.body(), payload_size=len(body)))
    return messages, reused


def forget(pointer: S3Pointer | None) -> None:
    """Delete an object no message points to any more; a failure only leaves it to expire."""
    if pointer is None:
        return
    try:
        delete_letter(pointer)
    except Exception as error:  # the bucket's expiry removes it later
        logger.warning("dead letter object not deleted", extra={"error_type": type(error).__name__})

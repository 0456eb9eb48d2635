"""Moving a letter on: its successors written (through S3 when too large), then the original deleted.

The original leaves the dead-letter queue only once its successors exist (or TikTok accepted it); its
S3 object, if it came through a pointer, is deleted only once no message points to it any more.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from tiktok_connector.delivery.letter_store import S3Pointer
from tiktok_connector.redrive.pointers import Opened, StoreError, forget, outgoing
from tiktok_connector.redrive.queues import Message, Queues, QueueWriteError
from tiktok_connector.redrive.report import RedriveReport

S3_UNAVAILABLE: Final = "s3_unavailable"
SQS_UNAVAILABLE: Final = "sqs_unavailable"


class MoveError(Exception):
    """A successor could not be written (`reason`): the original stays where it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Mover:
    queues: Queues
    bucket: str | None
    """Where letters grown past one SQS message go (a pointer's own object is reused first)."""
    report: RedriveReport

    def move(
        self,
        message: Message,
        opened: Opened,
        queue_url: str,
        bodies: Sequence[str],
        *,
        reason: str,
        retryable: bool | None,
    ) -> list[str]:
        """Write the successors to `queue_url`, then delete the original; returns the new message ids.

        Raises MoveError when a successor could not be written.
        """
        try:
            messages, reused = outgoing(bodies, reuse=opened.pointer, bucket=self.bucket)
        except StoreError:
            raise MoveError(S3_UNAVAILABLE) from None
        try:
            ids = self.queues.send(queue_url, messages, reason=reason, retryable=retryable)
        except QueueWriteError:
            raise MoveError(SQS_UNAVAILABLE) from None
        self.done(message, None if reused else opened.pointer)
        return ids

    def done(self, message: Message, pointer: S3Pointer | None) -> None:
        """Delete a handled message, then the object it pointed to (kept while the message stays:
        when SQS refused the delete, the message reappears later and is handled again)."""
        if self.queues.delete(message):
            forget(pointer)
        else:
            self.report.delete_failures += 1

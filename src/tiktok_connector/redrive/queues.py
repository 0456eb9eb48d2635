"""The redrive's SQS calls: receive with a visibility timeout, send, delete, and make visible again."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tiktok_connector.delivery.dead_letters import sqs_client
from tiktok_connector.delivery.letter_store import SIZE_ATTRIBUTE
from tiktok_connector.platform.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH: Final = 10
"""SQS's largest receive and visibility batch."""
MAX_VISIBILITY_S: Final = 43_200


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    receipt: str
    body: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send: a letter, or a pointer to one in S3 with the stored letter's size."""

    body: str
    payload_size: int | None = None


class QueueWriteError(Exception):
    """A message could not be written (the original it would replace must stay where it is)."""


class Queues:
    """The dead-letter queue the run reads, and any queue it writes to."""

    def __init__(self, dead_letter_queue_url: str) -> None:
        self.dead_letter_queue_url = dead_letter_queue_url
        self._sqs: SQSClient = sqs_client()

    def receive(self, count: int, *, wait_time_s: int, visibility_s: int) -> list[Message]:
        """Up to `count` (at most 10) messages, hidden for `visibility_s`; raises what SQS raised."""
        answer = self._sqs.receive_message(
            QueueUrl=self.dead_letter_queue_url,
            MaxNumberOfMessages=min(BATCH, count),
            WaitTimeSeconds=wait_time_s,
            VisibilityTimeout=min(MAX_VISIBILITY_S, visibility_s),
        )
        return [
            Message(message_id=item["MessageId"], receipt=item["ReceiptHandle"], body=item.get("Body", ""))
            for item in answer.get("Messages", [])
        ]

    def send(
        self, queue_url: str, messages: Sequence[Outgoing], *, reason: str, retryable: bool | None
    ) -> list[str]:
        """Send every message with its reason (and retryability, when known); returns the message ids."""
        common: dict[str, Any] = {"reason": {"DataType": "String", "StringValue": reason}}
        if retryable is not None:
            common["retryable"] = {"DataType": "String", "StringValue": str(retryable).lower()}
        ids: list[str] = []
        for message in messages:
            attributes = dict(common)
            if message.payload_size is not None:
                attributes[SIZE_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(message.payload_size)}
            try:
                sent = self._sqs.send_message(
                    QueueUrl=queue_url, MessageBody=message.body, MessageAttributes=attributes
                )
            except Exception as error:  # any SQS failure: the caller keeps the original
                logger.warning("queue write failed", extra={"error_type": type(error).__name__})
                raise QueueWriteError(type(error).__name__) from None
            ids.append(sent["MessageId"])
        return ids

    def delete(self, message: Message) -> bool:
        """Delete a message read from the dead-letter queue; False (logged) when SQS refused."""
        try:
            self._sqs.delete_message(QueueUrl=self.dead_letter_queue_url, ReceiptHandle=message.receipt)
        except Exception as error:  # it reappears after its visibility timeout; TikTok deduplicates
            logger.warning(
                "dead letter not deleted",
                extra={"message_id": message.message_id, "error_type": type(error).__name__},
            )
            return False
        return True

    def release(self, receipts: Sequence[str]) -> None:
        """Make messages visible again at once, for the next run."""
        for start in range(0, len(receipts), BATCH):
            chunk = receipts[start : start + BATCH]
            try:
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.dead_letter_queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                        for index, receipt in enumerate(chunk)
                    ],
                )
            except Exception as error:  # they become visible anyway when their timeout ends
                logger.warning("messages not released", extra={"error_type": type(error).__name__})

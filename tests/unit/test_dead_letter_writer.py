"""Writing dead letters in batches within the time left, against a scripted SQS client."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tiktok_connector.delivery import dead_letters
from tiktok_connector.delivery.dead_letter_writer import (
    NO_TIME,
    REFUSED,
    TOO_LARGE,
    UNAVAILABLE,
    batches_needed,
    write_dead_letters,
)
from tiktok_connector.delivery.dead_letters import SQS_MESSAGE_LIMIT, DeadLetter
from tiktok_connector.platform.aws import aws_client_key

Answer = dict[str, Any] | Exception | Callable[[list[dict[str, Any]]], dict[str, Any]]


class ScriptedQueue:
    """Answers each `send_message_batch` call from a script; by default every entry succeeds."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls: list[list[dict[str, Any]]] = []

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert QueueUrl == "queue"
        assert len(Entries) <= 10
        assert sum(len(entry["MessageBody"]) + 1024 for entry in Entries) <= SQS_MESSAGE_LIMIT
        self.calls.append(Entries)
        answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(Entries)
        failed = answer.get("Failed", [])
        failed_ids = {item["Id"] for item in failed}
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in failed_ids],
            "Failed": failed,
        }


@pytest.fixture
def use_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[ScriptedQueue], None]]:
    def use(queue: ScriptedQueue) -> None:
        monkeypatch.setattr(dead_letters, "_sqs", queue)
        monkeypatch.setattr(dead_letters, "_sqs_for", aws_client_key())

    yield use


def letter(size: int = 100, events: int = 1, reason: str = "rejected") -> DeadLetter:
    return DeadLetter(body="x" * size, event_count=events, reason=reason, retryable=reason != "rejected")


def plenty() -> float:
    return 60.0


def test_letters_go_in_batches_of_ten(use_queue: Callable[[ScriptedQueue], None]) -> None:
    queue = ScriptedQueue()
    use_queue(queue)
    letters = [letter() for _ in range(25)]

    result = write_dead_letters(letters, queue_url="queue", bucket=None, seconds_left=plenty)

    assert result.written == [True] * 25
    assert [len(call) for call in queue.calls] == [10, 10, 5] and batches_needed(letters) == 3
    attributes = queue.calls[0][0]["MessageAttributes"]
    assert attributes["reason"]["StringValue"] == "rejected"
    assert attributes["retryable"]["StringValue"] == "false"


def test_a_batch_stays_within_the_message_limit_in_total(use_queue: Callable[[ScriptedQueue], None]) -> None:
    queue = ScriptedQueue()
    use_queue(queue)
    letters = [letter(400_000) for _ in range(5)]

    result = write_dead_letters(letters, queue_url="queue", bucket=None, seconds_left=plenty)

    assert all(result.written)
    assert [len(call) for call in queue.calls] == [2, 2, 1] and batches_needed(letters) == 3


def test_entries_refused_for_a_passing_reason_are_sent_again(
    use_queue: Callable[[ScriptedQueue], None],
) -> None:
    # Given SQS failing two entries of the first batch: one for a passing reason, one as the sender's fault
    queue = ScriptedQueue(
        {
            "Failed": [
                {"Id": "1", "Code": "InternalError", "SenderFault": False},
                {"Id": "2", "Code": "InvalidMessageContents", "SenderFault": True},
            ]
        }
    )
    use_queue(queue)

    result = write_dead_letters(
        [letter(), letter(), letter()], queue_url="queue", bucket=None, seconds_left=plenty
    )

    # Then the first is sent again on its own, the second is not
    assert result.written == [True, True, False]
    assert [len(call) for call in queue.calls] == [3, 1]
    assert queue.calls[1][0]["MessageBody"] == queue.calls[0][1]["MessageBody"]
    assert result.problems == {REFUSED: 1}


def test_a_failing_call_is_tried_again_then_given_up(use_queue: Callable[[ScriptedQueue], None]) -> None:
    queue = ScriptedQueue(ConnectionError("down"), {}, ConnectionError("down"))
    use_queue(queue)
    assert write_dead_letters([letter()], queue_url="queue", bucket=None, seconds_left=plenty).written == [
        True
    ]

    queue = ScriptedQueue(*[ConnectionError("down")] * 5)
    use_queue(queue)
    result = write_dead_letters([letter(), letter()], queue_url="queue", bucket=None, seconds_left=plenty)
    assert result.written == [False, False]
    assert result.problems == {UNAVAILABLE: 2}
    assert len(queue.calls) == 3


def test_no_call_starts_without_time_left(use_queue: Callable[[ScriptedQueue], None]) -> None:
    queue = ScriptedQueue()
    use_queue(queue)

    result = write_dead_letters([letter()] * 12, queue_url="queue", bucket=None, seconds_left=lambda: 0.01)

    assert queue.calls == []
    assert result.problems == {NO_TIME: 12}


def test_a_slow_call_is_not_waited_for_past_the_time_left(use_queue: Callable[[ScriptedQueue], None]) -> None:
    def slow(entries: list[dict[str, Any]]) -> dict[str, Any]:
        time.sleep(0.5)
        return {"Successful": [{"Id": entry["Id"]} for entry in entries]}

    queue = ScriptedQueue(slow, slow, slow)
    use_queue(queue)
    deadline = time.monotonic() + 0.2

    result = write_dead_letters(
        [letter()], queue_url="queue", bucket=None, seconds_left=lambda: deadline - time.monotonic()
    )

    # The call was given up on (it may still land: TikTok deduplicates a replay of the resent batch)
    assert result.written == [False]
    assert len(queue.calls) == 1
    assert sum(result.problems.values()) == 1


def test_a_letter_over_the_limit_needs_a_bucket(use_queue: Callable[[ScriptedQueue], None]) -> None:
    queue = ScriptedQueue()
    use_queue(queue)
    huge = letter(SQS_MESSAGE_LIMIT)

    result = write_dead_letters([huge, letter()], queue_url="queue", bucket=None, seconds_left=plenty)

    assert result.written == [False, True]
    assert result.problems == {TOO_LARGE: 1}
    assert batches_needed([huge, letter()]) == 2

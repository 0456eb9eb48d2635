"""The pure parts of delivery: masking TikTok's messages, reading a partial answer, splitting requests."""

import pytest

from tiktok_connector.delivery.dead_letters import DeliveryFailure
from tiktok_connector.delivery.masking import mask_personal_data
from tiktok_connector.delivery.partial import failed_events
from tiktok_connector.delivery.settlement import FailedParts, can_split, halves, partition
from tiktok_connector.model.tiktok import SourceRef, TikTokRequest

# TikTok's message -> what may be stored or logged
MASKED: dict[str, str] = {
    "data.0.user.email: jane.doe@example.com is invalid": "data.0.user.email: <email> is invalid",
    'Invalid value "Jane.Doe+tiktok@Example.co.uk".': 'Invalid value "<email>".',
    "page.url: https://shop.example.com/?e=jane%40example.com": "page.url: https:<email>",
    "data.3.user.phone: +1 (415) 555-0123 is not E.164": "data.3.user.phone: <phone> is not E.164",
    "phone 415.555.0123.": "phone <phone>.",
    "phone=+14155550123": "phone=<phone>",
    "call 0044 20 7946 0958 now": "call <phone> now",
    "two: 4155550123, 4155550124": "two: <phone>, <phone>",
    # Kept: field paths, short numbers, codes and ids that are not phone numbers
    "data.12.event_id: Invalid event": "data.12.event_id: Invalid event",
    "Batch.0.properties.contents.0.content_id: Not a valid string": (
        "Batch.0.properties.contents.0.content_id: Not a valid string"
    ),
    "Invalid parameter.": "Invalid parameter.",
    "Too many requests. Please retry in some time.": "Too many requests. Please retry in some time.",
    "request 20261206042516B91B86FB0CB545C684": "request 20261206042516B91B86FB0CB545C684",
    "value 555-12 out of range": "value 555-12 out of range",
    "": "",
}


@pytest.mark.parametrize(("message", "expected"), MASKED.items())
def test_tiktok_messages_are_masked_before_they_are_kept(message: str, expected: str) -> None:
    assert mask_personal_data(message) == expected


def test_masking_twice_changes_nothing() -> None:
    for message in MASKED:
        once = mask_personal_data(message)
        assert mask_personal_data(once) == once


IDS = ["e-0", "e-1", "e-2", "e-3"]
FAILED_ITEM = {"code": 40002, "message": "data.1.user.email: jane.doe@example.com"}

# A 20001 answer's `data` -> the positions it names as failed
PARTIAL_ANSWERS: list[tuple[str, object, list[int]]] = [
    ("documented shape", {"failed_events": [{"index": 1, "event_id": "e-1", **FAILED_ITEM}]}, [1]),
    ("index only", {"failed_events": [{"index": 3}, {"index": 0}]}, [0, 3]),
    ("event id only", {"failed_events": [{"event_id": "e-2"}]}, [2]),
    ("index as text", {"failed_events": [{"index": "2"}]}, [2]),
    ("index out of range, id kept", {"failed_events": [{"index": 9, "event_id": "e-3"}]}, [3]),
    ("another key", {"errors": [{"index": 1}]}, [1]),
    ("one level deeper", {"result": {"failed": [{"event_id": "e-0"}]}}, [0]),
    ("data is the list", [{"index": 2}], [2]),
    ("named twice", {"failed_events": [{"index": 1}, {"event_id": "e-1"}]}, [1]),
    ("unknown event id", {"failed_events": [{"event_id": "other"}]}, []),
    ("nothing named", {}, []),
    ("no data", None, []),
    ("not a list of objects", {"failed_events": ["e-1"]}, []),
]


@pytest.mark.parametrize(
    ("data", "positions"), [(d, p) for _, d, p in PARTIAL_ANSWERS], ids=[n for n, _, _ in PARTIAL_ANSWERS]
)
def test_a_partial_answer_names_its_failed_events_by_index_or_event_id(
    data: object, positions: list[int]
) -> None:
    assert [event.position for event in failed_events(data, IDS)] == positions


def test_a_failed_events_message_is_masked_and_its_code_kept() -> None:
    [event] = failed_events({"failed_events": [{"index": 1, **FAILED_ITEM}]}, IDS)
    assert (event.code, event.message) == (40002, "data.1.user.email: <email>")


def request(count: int) -> TikTokRequest:
    ids = [f"e-{index}" for index in range(count)]
    return TikTokRequest(
        body={"event_source": "web", "event_source_id": "PIXEL", "data": [{"event_id": i} for i in ids]},
        sources=[SourceRef(event_id=i, batch_id="b") for i in ids],
    )


def ids_of(part: TikTokRequest) -> list[str]:
    data = part.body["data"]
    assert isinstance(data, list)
    assert [event["event_id"] for event in data] == [source.event_id for source in part.sources]
    return [source.event_id for source in part.sources]


def failure(
    code: int | None = 40002, message: str = "data.0.event_id: Invalid event", **fields: object
) -> DeliveryFailure:
    values: dict[str, object] = {
        "reason": "rejected",
        "retryable": False,
        "attempts": 1,
        "first_attempt_at": 1.0,
        "last_attempt_at": 2.0,
        "http_status": 200,
        "tiktok_code": code,
        "message": message,
        **fields,
    }
    return DeliveryFailure(**values)  # type: ignore[arg-type]


def test_halves_keep_the_request_and_give_the_odd_event_to_the_second() -> None:
    first, second = halves(request(5))
    assert (ids_of(first), ids_of(second)) == (["e-0", "e-1"], ["e-2", "e-3", "e-4"])
    assert first.body["event_source_id"] == second.body["event_source_id"] == "PIXEL"


@pytest.mark.parametrize(
    ("count", "code", "message", "splits"),
    [
        (2, 40002, "data.1.event_id: Invalid event", True),
        (1000, 40002, "Invalid parameter.", True),
        (1, 40002, "data.0.event_id: Invalid event", False),
        (2, 40001, "No permission to operate pixel code.", False),
        (2, 40100, "Too many requests.", False),
        (2, None, "", False),
        # About the request as a whole: every half would be refused alike
        (2, 40002, "event_source_id: Invalid pixel", False),
        (2, 40002, "test_event_code: too long", False),
    ],
)
def test_only_a_40002_of_several_events_is_split(
    count: int, code: int | None, message: str, splits: bool
) -> None:
    assert can_split(request(count), failure(code, message)) is splits


def test_partition_keeps_the_order_on_both_sides() -> None:
    refused = failed_events({"failed_events": [{"index": 3}, {"index": 1}]}, [*IDS, "e-4"])
    kept, lost = partition(request(5), refused)
    assert (ids_of(kept), ids_of(lost)) == (["e-0", "e-2", "e-4"], ["e-1", "e-3"])


def test_failed_parts_are_gathered_by_kind_into_one_request_each() -> None:
    whole = request(8)
    quarters = [part for half in halves(whole) for part in halves(half)]
    failed = FailedParts(whole)
    failed.add(quarters[0], failure(attempts=3, first_attempt_at=5.0))
    failed.add(quarters[1], failure(reason="deadline_exceeded", retryable=True, code=None))
    failed.add(quarters[3], failure(attempts=1, first_attempt_at=4.0, last_attempt_at=9.0))
    failed.add(TikTokRequest(body={**whole.body, "data": []}, sources=[]), failure())  # nothing to keep

    (rejected, rejected_failure), (late, late_failure) = failed.gathered()
    assert ids_of(rejected) == ["e-0", "e-1", "e-6", "e-7"]
    assert rejected.body["event_source_id"] == "PIXEL"
    assert (
        rejected_failure.attempts,
        rejected_failure.first_attempt_at,
        rejected_failure.last_attempt_at,
    ) == (
        3,
        4.0,
        9.0,
    )
    assert ids_of(late) == ["e-2", "e-3"]
    assert (late_failure.reason, late_failure.retryable) == ("deadline_exceeded", True)

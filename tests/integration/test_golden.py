"""Every sample in events/ against its golden file in events/expected/ (real handler, moto, TikTok sandbox).

A difference is either a regression or a deliberate change: then `make golden` rewrites the files and
the diff of events/expected/ is reviewed with the change.
"""

import json
import time
from pathlib import Path
from typing import Any

import pytest

from devstack import demo, golden
from devstack.tiktok_sandbox import RecordedRequest
from tests.conftest import Stack

SAMPLES = golden.sample_paths()


@pytest.mark.parametrize("path", SAMPLES, ids=[path.stem for path in SAMPLES])
def test_each_sample_produces_its_golden_answer_requests_and_dead_letters(stack: Stack, path: Path) -> None:
    # Given a sample and its golden file
    expected = golden.load_expected(path.name)

    # When the real handler receives the sample
    observation = golden.observe(
        path.name, json.loads(path.read_text()), sandbox=stack.sandbox, dead_letters=stack.dead_letters
    )

    # Then mParticle's answer, every TikTok request body and every dead letter are as recorded
    diff = golden.difference(expected, observation.golden(), path.name)
    assert not diff, f"differs from events/expected/{path.name} (make golden if deliberate):\n{diff}"


@pytest.mark.parametrize("path", SAMPLES, ids=[path.stem for path in SAMPLES])
def test_each_golden_file_keeps_the_connectors_promises(path: Path) -> None:
    # Whatever a regeneration writes, these hold for every sample
    expected = golden.load_expected(path.name)
    status, body = expected["answer"]["status"], expected["answer"]["body"]
    if "received" in body:
        # Every event ends forwarded, skipped with a reason, or dead-lettered
        assert body["received"] == body["forwarded"] + sum(body["skipped"].values()) + body["dead_lettered"]
        assert body["tiktok_requests"] == len(expected["tiktok_requests"])
    if status != 200:
        assert expected["tiktok_requests"] == []
    for request in expected["tiktok_requests"]:
        sent = request["body"]
        assert sent["event_source"] == "web"
        assert sent["event_source_id"] == demo.PIXEL_ID
        assert "test_event_code" not in sent
        assert 1 <= len(sent["data"]) <= 1000
    # The samples run against a TikTok that accepts everything: nothing to dead-letter
    assert expected["dead_letters"] == []


def test_every_golden_file_has_its_sample() -> None:
    samples = {path.name for path in SAMPLES}
    recorded = {path.name for path in golden.EXPECTED_DIR.glob("*.json")}

    assert recorded == samples
    assert all(golden.load_expected(name)["sample"] == name for name in recorded)


def _observation(answer: dict[str, Any], bodies: list[Any], letters: list[dict[str, Any]]) -> Any:
    now = time.time()
    requests = [
        RecordedRequest(
            path="/open_api/v1.3/event/track/",
            headers={},
            body=body,
            raw_size=0,
            http_status=200,
            response={"code": 0, "message": "OK", "request_id": "20261206000000ABCDEF"},
            received_at=now,
        )
        for body in bodies
    ]
    return golden.Observation(
        sample="x.json",
        route="POST /events",
        status=200,
        answer=answer,
        requests=requests,
        dead_letters=letters,
        started=now,
        finished=now,
    )


def test_only_values_taken_from_the_clock_become_placeholders() -> None:
    now = int(time.time())
    body = {
        "data": [
            {"event": "AddToCart", "event_time": now, "event_id": "a"},
            {"event": "AddToCart", "event_time": 1741954212, "event_id": "b"},
        ]
    }
    letter = {
        "first_attempt_at": "2026-12-06T04:25:16.123Z",
        "error": {"tiktok_code": 40002, "request_id": "20261206042516B91B86FB0CB545C684"},
        "request": body,
    }
    answer = {"timestamp_ms": now * 1000 + 5, "id": "abc", "received": 2}

    document = _observation(answer, [body], [letter]).golden()

    assert document["answer"] == {
        "status": 200,
        "body": {"timestamp_ms": "<now>", "id": "abc", "received": 2},
    }
    [request] = document["tiktok_requests"]
    assert request["answered_code"] == 0
    assert [event["event_time"] for event in request["body"]["data"]] == ["<now>", 1741954212]
    [dead_letter] = document["dead_letters"]
    assert dead_letter["first_attempt_at"] == "<time>"
    assert dead_letter["error"] == {"tiktok_code": 40002, "request_id": "<request id>"}
    assert [event["event_time"] for event in dead_letter["request"]["data"]] == ["<now>", 1741954212]


@pytest.mark.parametrize(
    ("expected", "observed", "same"),
    [
        ({"value": 25.0}, {"value": 25.0}, True),
        ({"value": 25.0}, {"value": 25}, False),
        ({"flag": True}, {"flag": 1}, False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"data": [1, 2]}, {"data": [2, 1]}, False),
    ],
)
def test_comparison_is_as_strict_as_the_wire(expected: object, observed: object, same: bool) -> None:
    assert golden.matches(expected, observed) is same
    assert (golden.difference(expected, observed) == "") is same

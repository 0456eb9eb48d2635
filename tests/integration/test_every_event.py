"""Every event accounted for: partial successes, bad events among good ones, and dead letters over 1 MiB.

The real handler against the sandbox and moto over sockets; outcomes are read from what the sandbox
accepted, the dead-letter queue and the bucket, not only from the answer.
"""

import json
import math
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from devstack import demo
from devstack.local_aws import read_queue
from tests.conftest import Stack
from tests.integration.test_faults import (
    FAST_POLICY,
    assert_accounted,
    ids,
    send,
    webhook_batch,
    webhook_request,
)
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy
from tiktok_connector.delivery.letter_store import POINTER_CLASS
from tiktok_connector.platform.secret_store import get_connector_secret
from tiktok_connector.redrive.report import RedriveReport
from tiktok_connector.redrive.runner import redrive

EVENTS = 1000
# One event's page URL over SQS's 1 MiB limit: its dead letter cannot be one message.
HUGE_URL = "https://shop.example.com/p/1077218/" + "trail-running-shoe/" * 60_000
OUTAGE = [{"kind": "http_status", "status": 503}] * FAST_POLICY.max_attempts


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_POLICY", FAST_POLICY)


# --------------------------------------------------------------------------------------------------
# Partial success (20001)


def test_a_partial_success_forwards_all_but_the_events_it_names(stack: Stack) -> None:
    # Given TikTok answering 20001, naming two events as failed with a message that quotes personal data
    stack.sandbox.set_partial_failures(
        ["partial-1", "partial-3"], message="data.1.user.email: jane.doe@example.com (+1 415 555 0123)"
    )
    # When a batch of 5 forwardable events arrives
    status, answer, book = send(stack, webhook_batch("partial", 5))
    # Then the others are forwarded in one request, and the two alone are dead-lettered as refused
    assert_accounted(status, answer, 7, book)
    assert len(stack.sandbox.requests()) == 1
    assert book.accepted_ids == ids("partial", 5) - {"partial-1", "partial-3"}
    assert book.dead_lettered == ["partial-1", "partial-3"]
    assert answer["warnings"]["tiktok_partial_success"] == 1
    assert answer["dead_letter_reasons"] == {"rejected": 2}
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"]) == ("rejected", False)
    assert (letter["error"]["http_status"], letter["error"]["tiktok_code"]) == (200, 20001)
    # TikTok's message is kept, masked
    assert letter["error"]["message"] == "data.1.user.email: <email> (<phone>)"
    # Only what TikTok kept counts towards the match keys
    assert answer["match_keys"]["email"] == 3


def test_a_partial_success_naming_no_event_forwards_every_event(stack: Stack) -> None:
    stack.sandbox.set_partial_failures(["not-in-this-batch"])
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 20001, "message": "Partial success"})
    status, answer, book = send(stack, webhook_batch("partial-none", 3))
    assert_accounted(status, answer, 5, book)
    assert answer["forwarded"] == 3
    assert answer["warnings"]["tiktok_partial_success"] == 1


# --------------------------------------------------------------------------------------------------
# One bad event must not sink a request (40002)


@pytest.mark.parametrize("bad", [1, 2, 5])
def test_bad_events_among_1000_are_found_by_halving_within_the_request_bound(stack: Stack, bad: int) -> None:
    # Given TikTok refusing (40002) every request that carries one of `bad` events spread over 1,000
    bad_ids = [f"bisect-{position}" for position in range(137, EVENTS, EVENTS // bad)][:bad]
    stack.sandbox.set_rejected_events(bad_ids)
    # When the batch arrives
    status, answer, book = send(stack, webhook_batch("bisect", EVENTS))
    # Then every other event is forwarded and the bad ones alone are dead-lettered, in one letter
    assert_accounted(status, answer, EVENTS + 2, book)
    assert book.accepted_ids == ids("bisect", EVENTS) - set(bad_ids)
    assert book.dead_lettered == bad_ids
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"], letter["error"]["tiktok_code"]) == (
        "rejected",
        False,
        40002,
    )
    # within 2·k·⌈log2 n⌉ + 1 requests
    requests = len(stack.sandbox.requests())
    bound = 2 * bad * math.ceil(math.log2(EVENTS)) + 1
    assert answer["tiktok_requests"] == requests <= bound
    assert all(len(stack.sandbox.requests_with_event(event_id)) > 1 for event_id in bad_ids)
    print(f"SPLIT-FIGURES {json.dumps({'events': EVENTS, 'bad': bad, 'requests': requests, 'bound': bound})}")


def test_a_refusal_of_the_request_as_a_whole_is_not_split(stack: Stack) -> None:
    stack.sandbox.fail_next(
        {"kind": "tiktok_code", "code": 40002, "message": "event_source_id: Invalid pixel"}
    )
    status, answer, book = send(stack, webhook_batch("whole", 4))
    assert_accounted(status, answer, 6, book)
    assert answer["tiktok_requests"] == 1
    assert book.dead_lettered_ids == ids("whole", 4)


def test_splitting_stops_when_time_runs_short_and_keeps_the_rest_for_the_redrive(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one bad event among 64, TikTok answering slowly, and time for only a few requests
    monkeypatch.setattr(
        delivery, "RETRY_POLICY", RetryPolicy(reserve_ms=300, min_attempt_ms=100, max_attempts=1)
    )
    stack.sandbox.set_rejected_events(["short-40"])
    stack.sandbox.set_random_faults(1.0, [{"kind": "delay", "seconds": 0.3}])
    status, answer = stack.invoke(webhook_request(webhook_batch("short", 64)), timeout_s=1.2)
    # Then the search stops, and every event is forwarded or dead-lettered
    assert status == 200
    assert answer["forwarded"] + answer["dead_lettered"] == 64
    letters = stack.dead_letters()
    [letter] = [letter for letter in letters if "short-40" in json.dumps(letter["request"])]
    # The part still holding the bad event is kept as it stands: worth replaying for its good events
    assert len(letter["request"]["data"]) > 1
    assert letter["retryable"] is True
    assert answer["tiktok_requests"] < 2 * math.ceil(math.log2(64)) + 1


# --------------------------------------------------------------------------------------------------
# Dead letters over one SQS message


def raw_messages(stack: Stack, queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    answer: dict[str, Any] = dict(
        sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
        )
    )
    messages: list[dict[str, Any]] = answer.get("Messages", [])
    return messages


def stored_letter(stack: Stack, key: str) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=stack.resources.bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def object_keys(stack: Stack) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=stack.resources.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def run_redrive(stack: Stack) -> RedriveReport:
    def token_source(force_fetch: bool) -> str | None:
        return get_connector_secret(stack.resources.secret_arn, force_fetch=force_fetch).tiktok_access_token

    report = redrive(
        queue_url=stack.resources.queue_url,
        parking_queue_url=stack.resources.parking_queue_url,
        api_url=stack.sandbox.track_url,
        token_source=token_source,
        max_attempts=5,
        dry_run=False,
        max_messages=None,
        remaining_ms=lambda: 120_000,
        wait_time_s=0,
        bucket=stack.resources.bucket,
    )
    assert report.messages_read == report.accounted
    return report


def dead_letter_huge_event(stack: Stack, fault: list[dict[str, Any]] | None = None) -> tuple[str, str]:
    """One event over 1 MiB dead-lettered; returns its event id and the S3 key its pointer names."""
    stack.sandbox.fail_next(*(fault or OUTAGE))
    status, answer = stack.invoke(webhook_request(webhook_batch("huge", 1, url=HUGE_URL)))
    assert (status, answer["dead_lettered"], answer.get("unaccounted", 0)) == (200, 1, 0)
    [message] = raw_messages(stack, stack.resources.queue_url)
    pointer = json.loads(message["Body"])
    assert pointer[0] == POINTER_CLASS
    assert pointer[1]["s3BucketName"] == stack.resources.bucket
    return "huge-0", pointer[1]["s3Key"]


def test_a_dead_letter_over_one_message_is_kept_whole_in_s3_behind_a_pointer(stack: Stack) -> None:
    event_id, key = dead_letter_huge_event(stack)
    assert key.startswith(f"dead-letters/{datetime.now(UTC).strftime('%Y-%m-%d')}/") and key.endswith(".json")
    [message] = raw_messages(stack, stack.resources.queue_url)
    assert len(message["Body"]) < 1024
    letter = stored_letter(stack, key)
    assert int(message["MessageAttributes"]["ExtendedPayloadSize"]["StringValue"]) > 1024 * 1024
    assert message["MessageAttributes"]["reason"]["StringValue"] == "server_error"
    assert (letter["reason"], letter["retryable"]) == ("server_error", True)
    assert [event["event_id"] for event in letter["request"]["data"]] == [event_id]
    assert letter["request"]["data"][0]["page"]["url"] == HUGE_URL
    assert demo.ACCESS_TOKEN not in json.dumps(letter)

    # When TikTok is back, the redrive follows the pointer, replays the letter, then deletes both
    before = len(stack.sandbox.requests())
    report = run_redrive(stack)
    assert (report.messages_redriven, report.events_redriven) == (1, 1)
    [replayed] = stack.sandbox.requests()[before:]
    assert replayed.event_ids == [event_id] and replayed.code == 0
    assert replayed.body == letter["request"]
    assert read_queue(stack.moto.url, stack.resources.queue_url) == []
    assert object_keys(stack) == []


def test_the_redrive_moves_a_pointer_letter_on_and_writes_its_object_again(stack: Stack) -> None:
    _, key = dead_letter_huge_event(stack)
    first = boto3.client("s3").head_object(Bucket=stack.resources.bucket, Key=key)

    # TikTok still down: the letter goes back to the queue behind the same pointer, its object rewritten
    stack.sandbox.fail_next({"kind": "http_status", "status": 503})
    report = run_redrive(stack)
    assert report.requeued == {"server_error": 1}
    [message] = raw_messages(stack, stack.resources.queue_url)
    assert json.loads(message["Body"])[1]["s3Key"] == key
    assert stored_letter(stack, key)["redrive_attempts"] == 1
    again = boto3.client("s3").head_object(Bucket=stack.resources.bucket, Key=key)
    assert again["ETag"] != first["ETag"] and again["LastModified"] >= first["LastModified"]

    # TikTok refuses it: parked behind the same pointer, with why
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
    report = run_redrive(stack)
    assert report.parked == {"rejected": 1}
    assert read_queue(stack.moto.url, stack.resources.queue_url) == []
    [parked] = raw_messages(stack, stack.resources.parking_queue_url)
    assert json.loads(parked["Body"])[1]["s3Key"] == key
    assert stored_letter(stack, key)["parked_reason"] == "rejected"
    assert object_keys(stack) == [key]


def test_a_pointer_whose_object_is_gone_is_parked(stack: Stack) -> None:
    _, key = dead_letter_huge_event(stack)
    boto3.client("s3").delete_object(Bucket=stack.resources.bucket, Key=key)
    report = run_redrive(stack)
    assert report.parked == {"payload_missing": 1}
    assert len(raw_messages(stack, stack.resources.parking_queue_url)) == 1


def test_without_a_bucket_an_oversized_letter_is_answered_503_and_start_up_warns_once(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.del_env("DEAD_LETTER_BUCKET")
    answers = []
    for _ in range(2):
        stack.sandbox.fail_next(*OUTAGE)
        answers.append(stack.invoke(webhook_request(webhook_batch("no-bucket", 1, url=HUGE_URL))))
    assert [(status, answer["unaccounted"]) for status, answer in answers] == [(503, 1), (503, 1)]
    warnings = [record for record in caplog.records if "DEAD_LETTER_BUCKET is not set" in record.getMessage()]
    assert len(warnings) == 1
    assert read_queue(stack.moto.url, stack.resources.queue_url) == []


def test_the_redrive_finds_a_bad_event_by_halving_one_run_per_level(stack: Stack) -> None:
    # Given four events dead-lettered together during an outage, one of which TikTok then refuses
    stack.sandbox.fail_next(*OUTAGE)
    status, answer = stack.invoke(webhook_request(webhook_batch("halving", 4)))
    assert (status, answer["dead_lettered"]) == (200, 4)
    stack.sandbox.set_rejected_events(["halving-2"])
    # When the redrive runs three times
    reports = [run_redrive(stack) for _ in range(3)]
    # Then each run halves what TikTok refused, the good events get through, the bad one is parked alone
    assert [report.requeued for report in reports] == [{"rejected": 1}, {"rejected": 1}, {}]
    assert [report.events_redriven for report in reports] == [0, 2, 1]
    assert reports[2].parked == {"rejected": 1}
    accepted = sorted(event["event_id"] for event in stack.sandbox.accepted_events())
    assert accepted == ["halving-0", "halving-1", "halving-3"]
    assert read_queue(stack.moto.url, stack.resources.queue_url) == []
    [parked] = read_queue(stack.moto.url, stack.resources.parking_queue_url)
    assert [event["event_id"] for event in parked["request"]["data"]] == ["halving-2"]  # type: ignore[index]
    assert (parked["reason"], parked["parked_reason"], parked["retryable"]) == ("rejected", "rejected", False)

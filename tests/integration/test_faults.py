"""The fault matrix: the real handler against the sandbox and moto over sockets.

For every fault each event of the batch ends forwarded (the sandbox accepted it), skipped with a reason,
or dead-lettered (it is in the queue), and the answer is 200, or 503 exactly when an event could be
neither delivered nor dead-lettered. A batch resent after a 503 carries the same event ids.
"""

import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devstack import demo
from devstack.lambda_runtime import LocalLambdaContext, http_api_event, invoke
from devstack.local_aws import REGION, free_port
from tests.conftest import Stack
from tiktok_connector.delivery import dead_letters
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy
from tiktok_connector.platform.aws import aws_client_key

# Small delays and timeouts keep the matrix fast; the logic is the production one.
FAST_POLICY = RetryPolicy(
    max_attempts=4,
    base_delay_s=0.01,
    max_delay_s=0.05,
    connect_timeout_s=0.5,
    # Connect plus read is the most one POST may take, its whole answer included: room for a 1,000-event
    # request on a loaded machine, and still shorter than the slow answers below.
    read_timeout_s=1.0,
    reserve_ms=300,
    min_attempt_ms=100,
    answer_ms=50,
)
SKIPPED_PER_BATCH = {"unsupported_event": 1, "invalid_page_url": 1}
# About 2 KB per event: 500 such events exceed one SQS message (1 MiB).
LONG_URL = "https://shop.example.com/p/1077218/" + "trail-running-shoe/" * 110
ROTATED_TOKEN = "rotated-tiktok-token-7f3a9c"


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_POLICY", FAST_POLICY)


# --------------------------------------------------------------------------------------------------
# Batches and bookkeeping


def commerce_event(event_id: str | None, *, action: str = "add_to_cart", url: str | None = None) -> object:
    data: dict[str, object] = {
        "product_action": {
            "action": action,
            "products": [{"id": "1077218", "name": "Trail Running Shoe", "price": 25.0, "quantity": 2}],
            "total_amount": 50.0,
        },
        "currency_code": "USD",
        "custom_flags": {"TikTok.URL": url or "https://shop.example.com/p/1077218"},
        "timestamp_unixtime_ms": 1741953980400,
    }
    if event_id is not None:
        data["source_message_id"] = event_id
    return {"event_type": "commerce_event", "data": data}


def webhook_batch(
    prefix: str, forwardable: int, *, batch_id: int = 3619462417291384100, url: str | None = None
) -> dict[str, Any]:
    """`forwardable` events with ids `<prefix>-<n>`, plus one unsupported and one without a page URL."""
    events = [commerce_event(f"{prefix}-{index}", url=url) for index in range(forwardable)]
    events.append(commerce_event(f"{prefix}-refund", action="refund"))
    events.append(commerce_event(f"{prefix}-no-url", url="shop.example.com/no-scheme"))
    return {
        "events": events,
        "user_identities": [
            {"identity_type": "customer_id", "identity": "CUST-10042"},
            {"identity_type": "email", "identity": "jane.doe@example.com"},
            {"identity_type": "mobile_number", "identity": "(415) 555-0123"},
        ],
        "device_info": {"http_header_user_agent": "Mozilla/5.0 (fault matrix)"},
        "ip": "203.0.113.24",
        "mpid": 7346244611012968789,
        "batch_id": batch_id,
        "timestamp_unixtime_ms": 1741954213001,
    }


def webhook_request(body: object) -> dict[str, Any]:
    return http_api_event(json.dumps(body), headers={"authorization": demo.WEBHOOK_AUTHORIZATION})


def ids(prefix: str, count: int) -> set[str]:
    return {f"{prefix}-{index}" for index in range(count)}


@dataclass
class Ledger:
    """Where each event ended, read from the sandbox and the dead-letter queue (not from the answer)."""

    accepted: list[str]
    dead_lettered: list[str]
    letters: list[dict[str, Any]]

    @property
    def accepted_ids(self) -> set[str]:
        return set(self.accepted)

    @property
    def dead_lettered_ids(self) -> set[str]:
        return set(self.dead_lettered)


def ledger(stack: Stack) -> Ledger:
    letters = stack.dead_letters()
    dead: list[str] = []
    for letter in letters:
        request_ids = [event["event_id"] for event in letter["request"]["data"]]
        # The source references and the stored request body describe the same events, in order.
        assert [source["event_id"] for source in letter["source"]["events"]] == request_ids
        assert len(letter["request"]["data"]) <= 1000
        assert len(json.dumps(letter, separators=(",", ":")).encode()) <= 1024 * 1024
        assert demo.ACCESS_TOKEN not in json.dumps(letter)
        dead.extend(request_ids)
    accepted = [event["event_id"] for event in stack.sandbox.accepted_events()]
    return Ledger(accepted=accepted, dead_lettered=dead, letters=letters)


def assert_accounted(status: int, answer: dict[str, Any], sent: int, book: Ledger) -> None:
    """Every event has exactly one outcome, and 503 exactly when some event has none."""
    skipped = sum(answer["skipped"].values())
    unaccounted = answer.get("unaccounted", 0)
    assert answer["received"] == sent
    assert answer["forwarded"] + skipped + answer["dead_lettered"] + unaccounted == sent
    assert answer["skipped"] == SKIPPED_PER_BATCH
    if unaccounted:
        assert status == 503
        assert answer["error"] == "unavailable"
    else:
        assert status == 200
        assert "error" not in answer
    assert len(book.accepted_ids) == answer["forwarded"]
    assert len(book.dead_lettered) == len(book.dead_lettered_ids) == answer["dead_lettered"]
    assert not book.accepted_ids & book.dead_lettered_ids


def send(stack: Stack, body: object, **kwargs: Any) -> tuple[int, dict[str, Any], Ledger]:
    status, answer = stack.invoke(webhook_request(body), **kwargs)
    return status, answer, ledger(stack)


def wait_for_requests(stack: Stack, count: int) -> None:
    """A slow answer is recorded when the sandbox finishes it, after the connector gave up waiting."""
    deadline = time.monotonic() + 10
    while len(stack.sandbox.requests()) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def unavailable_sqs(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SQS down while Secrets Manager stays readable: the secret is cached by a first invocation."""
    status, _ = stack.invoke(webhook_request({"events": []}))
    assert status == 200
    client = boto3.client(
        "sqs",
        endpoint_url=closed_port_url(),
        region_name=REGION,
        config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 1}),
    )
    monkeypatch.setattr(dead_letters, "_sqs", client)
    # Pin the broken client to this environment, or the client cache would replace it with a working one.
    monkeypatch.setattr(dead_letters, "_sqs_for", aws_client_key())
    yield
    dead_letters.reset_sqs_client()


# --------------------------------------------------------------------------------------------------
# TikTok answers


def test_rate_limit_burst_is_retried_until_accepted(stack: Stack) -> None:
    # Given three rate-limit answers in a row, then a healthy TikTok
    stack.sandbox.fail_next(*[{"kind": "tiktok_code", "code": 40100}] * 3)
    # When a batch of 5 forwardable events (and 2 to skip) arrives
    status, answer, book = send(stack, webhook_batch("rl", 5))
    # Then the fourth attempt delivers every forwardable event
    assert_accounted(status, answer, 7, book)
    assert book.accepted_ids == ids("rl", 5)
    assert answer["tiktok_requests"] == 4
    assert [request.code for request in stack.sandbox.requests()] == [40100, 40100, 40100, 0]
    # and every attempt carried the same event ids
    assert len({json.dumps(request.body["data"]) for request in stack.sandbox.requests()}) == 1


def test_rate_limit_beyond_the_attempts_is_dead_lettered_as_retryable(stack: Stack) -> None:
    stack.sandbox.fail_next(*[{"kind": "tiktok_code", "code": 40100}] * 4)
    status, answer, book = send(stack, webhook_batch("rl-dlq", 3))
    assert_accounted(status, answer, 5, book)
    assert book.dead_lettered_ids == ids("rl-dlq", 3)
    (letter,) = book.letters
    assert letter["reason"] == "rate_limited"
    assert letter["retryable"] is True
    assert letter["attempts"] == 4
    assert letter["error"]["tiktok_code"] == 40100
    assert letter["error"]["http_status"] == 200
    assert answer["dead_letter_reasons"] == {"rate_limited": 3}


@pytest.mark.parametrize("http_status", [429, 500, 502, 503, 504])
def test_http_errors_are_retried(stack: Stack, http_status: int) -> None:
    stack.sandbox.fail_next({"kind": "http_status", "status": http_status})
    status, answer, book = send(stack, webhook_batch(f"http-{http_status}", 4))
    assert_accounted(status, answer, 6, book)
    assert book.accepted_ids == ids(f"http-{http_status}", 4)
    assert [request.http_status for request in stack.sandbox.requests()] == [http_status, 200]


@pytest.mark.parametrize("http_status", [500, 502, 503])
def test_persistent_server_errors_are_dead_lettered(stack: Stack, http_status: int) -> None:
    stack.sandbox.fail_next(*[{"kind": "http_status", "status": http_status}] * 4)
    status, answer, book = send(stack, webhook_batch(f"5xx-{http_status}", 2))
    assert_accounted(status, answer, 4, book)
    assert book.dead_lettered_ids == ids(f"5xx-{http_status}", 2)
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"], letter["attempts"]) == ("server_error", True, 4)
    assert letter["error"]["http_status"] == http_status
    assert letter["error"]["tiktok_code"] is None


def test_slow_answer_past_the_read_timeout_is_retried_with_the_same_event_ids(stack: Stack) -> None:
    # Given an answer that comes after the read timeout (TikTok accepts it, but too late)
    stack.sandbox.fail_next({"kind": "delay", "seconds": 2.0})
    status, answer, _ = send(stack, webhook_batch("slow", 3))
    # Then the connector retried and the retry was accepted
    assert status == 200
    assert answer["forwarded"] == 3
    assert answer["tiktok_requests"] == 2
    wait_for_requests(stack, 2)
    book = ledger(stack)
    # TikTok saw the events twice, under the same ids: it deduplicates them (pixel + event + event_id)
    assert sorted(book.accepted) == sorted([*ids("slow", 3), *ids("slow", 3)])
    assert book.dead_lettered == []


def test_answers_that_never_come_in_time_are_dead_lettered(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "RETRY_POLICY", dataclasses.replace(FAST_POLICY, max_attempts=2))
    stack.sandbox.set_random_faults(1.0, [{"kind": "delay", "seconds": 2.0}])
    status, answer = stack.invoke(webhook_request(webhook_batch("timeout", 2)))
    assert status == 200
    assert answer["dead_lettered"] == 2
    book = ledger(stack)
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"], letter["attempts"]) == ("timeout", True, 2)
    assert book.dead_lettered_ids == ids("timeout", 2)


def test_connection_reset_is_retried_on_a_new_connection(stack: Stack) -> None:
    stack.sandbox.fail_next({"kind": "reset"}, {"kind": "reset"})
    status, answer, book = send(stack, webhook_batch("reset", 3))
    assert_accounted(status, answer, 5, book)
    assert book.accepted_ids == ids("reset", 3)
    assert [request.http_status for request in stack.sandbox.requests()] == [None, None, 200]
    assert stack.sandbox.connections_opened >= 3


def test_connection_resets_beyond_the_attempts_are_dead_lettered(stack: Stack) -> None:
    stack.sandbox.set_random_faults(1.0, [{"kind": "reset"}])
    status, answer, book = send(stack, webhook_batch("resets", 2))
    assert_accounted(status, answer, 4, book)
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"], letter["attempts"]) == ("connection_error", True, 4)


def test_connection_refused_is_dead_lettered(stack: Stack) -> None:
    stack.set_env("TIKTOK_API_URL", closed_port_url() + "/open_api/v1.3/event/track/")
    status, answer, book = send(stack, webhook_batch("refused", 3))
    assert_accounted(status, answer, 5, book)
    assert book.dead_lettered_ids == ids("refused", 3)
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"], letter["attempts"]) == ("connection_error", True, 4)
    assert stack.sandbox.requests() == []


def test_invalid_parameter_is_not_retried_and_dead_lettered_as_final(stack: Stack) -> None:
    # One event: a request of several would first be split to find the bad ones (tests below)
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002, "message": "data.0.event_time: invalid"})
    status, answer, book = send(stack, webhook_batch("rejected", 1))
    assert_accounted(status, answer, 3, book)
    assert len(stack.sandbox.requests()) == 1
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"], letter["attempts"]) == ("rejected", False, 1)
    assert letter["error"]["tiktok_code"] == 40002
    assert letter["error"]["message"] == "data.0.event_time: invalid"


def test_token_rejected_after_rotation_is_retried_once_with_the_fresh_secret(stack: Stack) -> None:
    # Given a warm container that cached the old token
    status, _ = stack.invoke(webhook_request({"events": []}))
    assert status == 200
    # When the token is rotated in Secrets Manager and TikTok revokes the old one
    stack.put_secret({**demo.SECRET, "tiktok_access_token": ROTATED_TOKEN})
    stack.sandbox.set_access_tokens([ROTATED_TOKEN])
    status, answer, book = send(stack, webhook_batch("rotated", 3))
    # Then the connector re-reads the secret once and delivers with the new token
    assert_accounted(status, answer, 5, book)
    assert book.accepted_ids == ids("rotated", 3)
    assert [request.code for request in stack.sandbox.requests()] == [40105, 0]
    assert [request.headers["Access-Token"] for request in stack.sandbox.requests()] == [
        "<invalid>",
        "<valid>",
    ]


def test_token_rejected_without_rotation_is_dead_lettered_for_the_redrive(stack: Stack) -> None:
    stack.sandbox.set_access_tokens([ROTATED_TOKEN])  # revoked, and the secret still holds the old one
    status, answer, book = send(stack, webhook_batch("revoked", 2))
    assert_accounted(status, answer, 4, book)
    assert [request.code for request in stack.sandbox.requests()] == [40105]
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"]) == ("token_rejected", True)
    assert letter["error"]["tiktok_code"] == 40105


# --------------------------------------------------------------------------------------------------
# Large batches


def test_more_than_1000_events_go_in_the_fewest_requests(stack: Stack) -> None:
    status, answer, book = send(stack, webhook_batch("big", 2345))
    assert_accounted(status, answer, 2347, book)
    assert [len(request.body["data"]) for request in stack.sandbox.requests()] == [1000, 1000, 345]
    assert book.accepted_ids == ids("big", 2345)


def test_a_rejected_request_of_a_large_batch_is_dead_lettered_in_split_messages(stack: Stack) -> None:
    # Given TikTok accepting the first request (an answer with code 0) and refusing the second for good
    # (no permission: unlike 40002, no part of it could pass), and events with long page URLs
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 0}, {"kind": "tiktok_code", "code": 40001})
    status, answer, book = send(stack, webhook_batch("split", 1500, url=LONG_URL))
    assert_accounted(status, answer, 1502, book)
    first, second = (
        {event["event_id"] for event in request.body["data"]} for request in stack.sandbox.requests()
    )
    assert book.accepted_ids == first
    assert book.dead_lettered_ids == second
    assert (answer["forwarded"], answer["dead_lettered"]) == (1000, 500)
    assert len(book.letters) >= 2, "500 events exceed one SQS message: the request is split"


# --------------------------------------------------------------------------------------------------
# AWS dependencies


def test_secrets_manager_unavailable_answers_503_and_sends_nothing(stack: Stack) -> None:
    stack.set_env("AWS_ENDPOINT_URL", closed_port_url())
    status, answer = stack.invoke(webhook_request(webhook_batch("no-secret", 2)))
    assert status == 503
    assert answer["error"] == "unavailable"
    assert stack.sandbox.requests() == []
    # When Secrets Manager is back, mParticle's resend is delivered
    stack.set_env("AWS_ENDPOINT_URL", stack.moto.url)
    status, answer, book = send(stack, webhook_batch("no-secret", 2))
    assert_accounted(status, answer, 4, book)
    assert book.accepted_ids == ids("no-secret", 2)


@pytest.mark.usefixtures("unavailable_sqs")
def test_sqs_unavailable_does_not_matter_while_tiktok_accepts(stack: Stack) -> None:
    status, answer, book = send(stack, webhook_batch("sqs-ok", 3))
    assert_accounted(status, answer, 5, book)
    assert book.accepted_ids == ids("sqs-ok", 3)


@pytest.mark.usefixtures("unavailable_sqs")
def test_sqs_unavailable_while_tiktok_fails_answers_503_and_the_resend_keeps_the_event_ids(
    stack: Stack,
) -> None:
    # Given TikTok refusing (no permission) and the dead-letter queue down
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40001})
    batch = webhook_batch("sqs-down", 3)
    batch["events"].append(commerce_event(None))  # an event without any id: its id is derived
    status, answer = stack.invoke(webhook_request(batch))
    # Then the events have no outcome: 503 so that mParticle resends the batch
    assert status == 503
    assert answer["error"] == "unavailable"
    assert answer["unaccounted"] == 4
    assert answer["forwarded"] + answer["dead_lettered"] == 0
    assert answer["received"] == 6 == answer["unaccounted"] + sum(answer["skipped"].values())
    attempted = {event["event_id"] for event in stack.sandbox.requests()[0].body["data"]}
    # When the queue is back and mParticle resends the same batch
    dead_letters.reset_sqs_client()
    status, answer, book = send(stack, batch)
    # Then every event is delivered under the id it had the first time
    assert status == 200
    assert answer["forwarded"] == 4
    assert book.accepted_ids == attempted
    assert ids("sqs-down", 3) < attempted


@pytest.mark.usefixtures("unavailable_sqs")
def test_partial_failure_of_a_large_batch_answers_503_and_the_resend_has_no_new_event_id(
    stack: Stack,
) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 0}, *[{"kind": "http_status", "status": 503}] * 4)
    status, answer = stack.invoke(webhook_request(webhook_batch("partial", 1200)))
    assert status == 503
    assert (answer["forwarded"], answer["dead_lettered"], answer["unaccounted"]) == (1000, 0, 200)
    first_ids = {event["event_id"] for request in stack.sandbox.requests() for event in request.body["data"]}
    dead_letters.reset_sqs_client()
    stack.sandbox.reset()
    status, answer, book = send(stack, webhook_batch("partial", 1200))
    assert_accounted(status, answer, 1202, book)
    assert book.accepted_ids == first_ids == ids("partial", 1200)


# --------------------------------------------------------------------------------------------------
# The Lambda deadline


def test_deadline_arriving_mid_retry_dead_letters_before_the_function_times_out(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given TikTok failing for good and a policy that would retry far longer than the function may run
    monkeypatch.setattr(
        delivery,
        "RETRY_POLICY",
        RetryPolicy(max_attempts=100, base_delay_s=0.05, max_delay_s=0.1, reserve_ms=500, min_attempt_ms=100),
    )
    stack.sandbox.set_random_faults(1.0, [{"kind": "http_status", "status": 503}])
    context = LocalLambdaContext(timeout_s=1.5)
    # When a batch arrives
    status, answer = invoke(webhook_request(webhook_batch("deadline", 3)), context)
    # Then the retries stopped for the deadline, not the attempt cap, and the events were dead-lettered
    assert context.get_remaining_time_in_millis() > 0
    book = ledger(stack)
    assert_accounted(status, answer, 5, book)
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"]) == ("server_error", True)
    assert 1 < letter["attempts"] == answer["tiktok_requests"] < 100


def test_no_time_left_dead_letters_without_calling_tiktok(stack: Stack) -> None:
    # Given an invocation that starts with less time than one attempt needs after the reserve
    status, answer = stack.invoke(webhook_request(webhook_batch("late", 2)), timeout_s=0.38)
    book = ledger(stack)
    assert_accounted(status, answer, 4, book)
    assert stack.sandbox.requests() == []
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"], letter["attempts"]) == ("deadline_exceeded", True, 0)


def test_deadline_arriving_while_tiktok_is_slow_keeps_time_for_the_dead_letters(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given answers slower than the whole invocation: every attempt must be cut to the time left
    monkeypatch.setattr(
        delivery,
        "RETRY_POLICY",
        RetryPolicy(
            max_attempts=100, base_delay_s=0.01, max_delay_s=0.02, reserve_ms=500, min_attempt_ms=100
        ),
    )
    stack.sandbox.set_random_faults(1.0, [{"kind": "delay", "seconds": 5.0}])
    context = LocalLambdaContext(timeout_s=1.5)
    status, answer = invoke(webhook_request(webhook_batch("slow-deadline", 2)), context)
    assert context.get_remaining_time_in_millis() > 0
    book = ledger(stack)
    assert_accounted(status, answer, 4, book)
    (letter,) = book.letters
    assert (letter["reason"], letter["retryable"]) == ("timeout", True)

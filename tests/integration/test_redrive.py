"""The redrive over real sockets: dead letters made by the real handler during an outage, then replayed."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack import demo
from devstack.lambda_runtime import LocalLambdaContext, load_event
from devstack.local_aws import read_queue
from tests.conftest import Stack
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy
from tiktok_connector.entrypoints.redrive import lambda_handler
from tiktok_connector.platform.secret_store import clear_secret_cache, get_connector_secret
from tiktok_connector.redrive.decisions import FAILURES_BEFORE_STOP
from tiktok_connector.redrive.report import RedriveReport
from tiktok_connector.redrive.runner import redrive

OUTAGE = [{"kind": "http_status", "status": 503}]


@pytest.fixture(autouse=True)
def one_attempt_per_delivery(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The Webhook path would retry with backoff; one attempt is enough to fill the queue quickly.
    monkeypatch.setattr(delivery, "RETRY_POLICY", RetryPolicy(max_attempts=1))
    yield


def dead_letter(stack: Stack, *names: str, fault: dict[str, Any] | None = None, outage: bool = True) -> None:
    """Send samples through the real handler while TikTok fails, so that they land in the queue.

    Without a `fault`, TikTok answers 503 to everything (when `outage`); with one, only that answer.
    """
    for name in names:
        if fault is not None:
            stack.sandbox.fail_next(fault)
        elif outage:
            stack.sandbox.set_random_faults(1.0, OUTAGE, seed=1)
        status, body = stack.invoke(load_event(name))
        assert status == 200, body
        assert body["dead_lettered"] > 0, body
    stack.sandbox.set_random_faults(0, [])


def run(
    stack: Stack,
    *,
    dry_run: bool = False,
    max_attempts: int = 5,
    parking: bool = True,
    parking_queue_url: str | None = None,
) -> RedriveReport:
    secret_id = stack.resources.secret_arn

    def token_source(force_fetch: bool) -> str | None:
        return get_connector_secret(secret_id, force_fetch=force_fetch).tiktok_access_token

    report = redrive(
        queue_url=stack.resources.queue_url,
        parking_queue_url=(parking_queue_url or stack.resources.parking_queue_url) if parking else None,
        api_url=stack.sandbox.track_url,
        token_source=token_source,
        max_attempts=max_attempts,
        dry_run=dry_run,
        max_messages=None,
        remaining_ms=lambda: 120_000,
        wait_time_s=0,
    )
    # Every message read has exactly one outcome.
    assert report.messages_read == report.accounted
    text = json.dumps(report.to_dict())
    assert demo.ACCESS_TOKEN not in text and "@" not in text
    return report


def parked(stack: Stack) -> list[dict[str, Any]]:
    return read_queue(stack.moto.url, stack.resources.parking_queue_url)


def event_ids(letters: list[dict[str, Any]]) -> list[str]:
    return sorted(event["event_id"] for letter in letters for event in letter["request"]["data"])


def sent_since(stack: Stack, before: int) -> list[Any]:
    return [record.body for record in stack.sandbox.requests()[before:]]


def test_retryable_letters_are_redriven_with_their_event_ids_then_deleted(stack: Stack) -> None:
    # Given three requests dead-lettered during an outage
    dead_letter(stack, "webhook-add-to-cart", "webhook-purchase", "webhook-custom-mapped")
    letters = stack.dead_letters()
    assert len(letters) == 3
    before = len(stack.sandbox.requests())

    # When TikTok is back and the redrive runs
    report = run(stack)

    # Then every stored request body reached TikTok unchanged, and the queue is empty
    assert report.messages_read == 3
    assert report.messages_redriven == 3
    assert report.events_redriven == len(event_ids(letters)) == 4
    assert (report.parked, report.requeued, report.left, report.stopped) == ({}, {}, {}, None)
    sent = sorted(json.dumps(body, sort_keys=True) for body in sent_since(stack, before))
    assert sent == sorted(json.dumps(letter["request"], sort_keys=True) for letter in letters)
    assert sorted(event["event_id"] for event in stack.sandbox.accepted_events()) == event_ids(letters)
    assert stack.dead_letters() == []
    assert parked(stack) == []


def test_non_retryable_letters_are_parked_by_reason_and_not_sent(stack: Stack) -> None:
    dead_letter(stack, "webhook-add-to-cart", fault={"kind": "tiktok_code", "code": 40002})
    dead_letter(stack, "webhook-checkout", fault={"kind": "tiktok_code", "code": 40001})
    dead_letter(stack, "webhook-purchase")
    rejected = {letter["reason"]: letter for letter in stack.dead_letters()}
    assert set(rejected) == {"rejected", "no_permission", "server_error"}
    before = len(stack.sandbox.requests())

    report = run(stack)

    assert report.parked == {"rejected": 1, "no_permission": 1}
    assert report.messages_redriven == 1
    assert report.messages_read == 3
    assert [body["data"][0]["event_id"] for body in sent_since(stack, before)] == [
        rejected["server_error"]["request"]["data"][0]["event_id"]
    ]
    assert stack.dead_letters() == []
    in_parking = {letter["parked_reason"]: letter for letter in parked(stack)}
    assert set(in_parking) == {"rejected", "no_permission"}
    for reason, letter in in_parking.items():
        assert letter["request"] == rejected[reason]["request"]
        assert letter["retryable"] is False


def test_without_a_parking_queue_non_retryable_letters_stay(stack: Stack) -> None:
    dead_letter(stack, "webhook-add-to-cart", fault={"kind": "tiktok_code", "code": 40002})

    report = run(stack, parking=False)

    assert report.left == {"rejected": 1}
    assert [letter["reason"] for letter in stack.dead_letters()] == ["rejected"]
    assert parked(stack) == []


def test_a_letter_stays_when_the_parking_queue_cannot_be_written(stack: Stack) -> None:
    dead_letter(stack, "webhook-add-to-cart", fault={"kind": "tiktok_code", "code": 40002})
    dead_letter(stack, "webhook-purchase")
    before = stack.dead_letters()

    report = run(stack, parking_queue_url=stack.resources.parking_queue_url + "-missing")

    assert report.stopped == "sqs_unavailable"
    assert report.parked == {}
    assert report.left["sqs_unavailable"] >= 1
    remaining = stack.dead_letters()
    assert [letter for letter in remaining if letter["reason"] == "rejected"] == [
        letter for letter in before if letter["reason"] == "rejected"
    ]
    assert len(remaining) + report.messages_redriven == 2


def test_a_failed_redrive_requeues_with_the_attempt_count_until_attempts_are_exhausted(stack: Stack) -> None:
    dead_letter(stack, "webhook-add-to-cart")
    (original,) = stack.dead_letters()
    stack.sandbox.set_random_faults(1.0, OUTAGE, seed=1)

    first = run(stack, max_attempts=3)
    (again,) = stack.dead_letters()
    second = run(stack, max_attempts=3)
    (twice,) = stack.dead_letters()
    third = run(stack, max_attempts=3)

    assert first.requeued == second.requeued == {"server_error": 1}
    assert (again["redrive_attempts"], twice["redrive_attempts"]) == (1, 2)
    assert (again["attempts"], twice["attempts"]) == (original["attempts"] + 1, original["attempts"] + 2)
    assert again["request"] == twice["request"] == original["request"]
    assert again["error"]["http_status"] == 503
    assert third.parked == {"attempts_exhausted": 1}
    assert third.requeued == {}
    assert stack.dead_letters() == []
    (exhausted,) = parked(stack)
    assert exhausted["parked_reason"] == "attempts_exhausted"
    assert exhausted["redrive_attempts"] == 3
    assert exhausted["request"] == original["request"]
    assert stack.sandbox.accepted_events() == []


def test_a_letter_already_at_the_limit_is_parked_without_being_sent(stack: Stack) -> None:
    dead_letter(stack, "webhook-add-to-cart")
    stack.sandbox.set_random_faults(1.0, OUTAGE, seed=1)
    run(stack)
    stack.sandbox.set_random_faults(0, [])
    before = len(stack.sandbox.requests())

    report = run(stack, max_attempts=1)

    assert report.parked == {"attempts_exhausted": 1}
    assert sent_since(stack, before) == []
    assert [letter["redrive_attempts"] for letter in parked(stack)] == [1]


def test_an_outage_during_the_redrive_stops_it_without_burning_every_attempt(stack: Stack) -> None:
    samples = ["webhook-add-to-cart", "webhook-add-to-wishlist", "webhook-checkout", "webhook-purchase"]
    dead_letter(stack, *samples, "webhook-custom-mapped")
    stack.sandbox.set_random_faults(1.0, OUTAGE, seed=1)

    report = run(stack)

    assert report.messages_read == 5
    assert report.requeued == {"server_error": FAILURES_BEFORE_STOP}
    assert report.left == {"tiktok_unavailable": 5 - FAILURES_BEFORE_STOP}
    assert report.stopped == "tiktok_unavailable"
    attempts = sorted(letter["redrive_attempts"] for letter in stack.dead_letters())
    assert attempts == [0] * (5 - FAILURES_BEFORE_STOP) + [1] * FAILURES_BEFORE_STOP


def test_token_rejected_letters_are_redriven_once_the_secret_is_fixed(stack: Stack) -> None:
    # Given TikTok revoked the token: the Webhook path dead-letters with token_rejected
    stack.sandbox.set_access_tokens(["rotated-token"])
    dead_letter(stack, "webhook-add-to-cart", "webhook-purchase", outage=False)
    letters = stack.dead_letters()
    assert {letter["reason"] for letter in letters} == {"token_rejected"}

    # When the redrive runs before the secret is fixed, it stops at the first rejection
    stale = run(stack)
    assert stale.requeued == {"token_rejected": 1}
    assert stale.stopped == "token_rejected"
    assert stale.left == {"token_rejected": 1}

    # And after the secret is fixed (the cached old token is rejected, then re-read), both go through
    stack.put_secret({**demo.SECRET, "tiktok_access_token": "rotated-token"})
    fixed = run(stack)
    assert fixed.messages_redriven == 2
    assert stack.dead_letters() == []
    assert sorted(event["event_id"] for event in stack.sandbox.accepted_events()) == event_ids(letters)


def test_a_dry_run_reports_the_plan_and_changes_nothing(stack: Stack) -> None:
    dead_letter(stack, "webhook-add-to-cart", "webhook-custom-mapped")
    dead_letter(stack, "webhook-purchase", fault={"kind": "tiktok_code", "code": 40002})
    letters = stack.dead_letters()
    boto3.client("sqs").send_message(QueueUrl=stack.resources.queue_url, MessageBody="not a dead letter")
    before = len(stack.sandbox.requests())

    report = run(stack, dry_run=True)

    assert report.messages_read == 4
    assert report.left == {"dry_run": 4}
    assert (report.would_send_messages, report.would_send_events) == (2, 3)
    assert report.would_park == {"rejected": 1, "malformed": 1}
    assert report.messages_redriven == 0 and report.parked == {} and report.requeued == {}
    planned: dict[str, list[str]] = {"send": [], "park": []}
    for entry in report.plan:
        planned[str(entry["action"])].extend(entry.get("event_ids", []))  # type: ignore[arg-type]
    retryable = [letter for letter in letters if letter.get("retryable")]
    assert sorted(planned["send"]) == event_ids(retryable)
    assert sent_since(stack, before) == []
    assert parked(stack) == []
    # The messages are visible again, unchanged (read_queue skips the body it cannot parse).
    after = read_queue_raw(stack)
    assert sorted(after) == sorted(
        [json.dumps(letter, sort_keys=True) for letter in letters] + ["not a dead letter"]
    )


def read_queue_raw(stack: Stack) -> list[str]:
    sqs = boto3.client("sqs")
    bodies: list[str] = []
    receipts: list[str] = []
    while batch := sqs.receive_message(
        QueueUrl=stack.resources.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
    ).get("Messages", []):
        for message in batch:
            body = message["Body"]
            try:
                bodies.append(json.dumps(json.loads(body), sort_keys=True))
            except ValueError:
                bodies.append(body)
            receipts.append(message["ReceiptHandle"])
    for receipt in receipts:
        sqs.change_message_visibility(
            QueueUrl=stack.resources.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
        )
    return bodies


def test_malformed_messages_are_parked_not_lost(stack: Stack) -> None:
    odd = [
        "not json {",
        json.dumps({"version": 1, "reason": "server_error", "retryable": True, "request": "x"}),
        json.dumps({"version": 99, "something": "else"}),
    ]
    sqs = boto3.client("sqs")
    for body in odd:
        sqs.send_message(QueueUrl=stack.resources.queue_url, MessageBody=body)
    before = len(stack.sandbox.requests())

    report = run(stack)

    assert report.parked == {"malformed": 3}
    assert report.messages_read == 3
    assert sent_since(stack, before) == []
    assert read_queue_raw(stack) == []
    bodies: list[str] = []
    while batch := sqs.receive_message(
        QueueUrl=stack.resources.parking_queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in batch:
            assert message["MessageAttributes"]["reason"]["StringValue"] == "malformed"
            bodies.append(message["Body"])
            sqs.delete_message(
                QueueUrl=stack.resources.parking_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
    assert "not json {" in bodies
    documents = [json.loads(body) for body in bodies if body != "not json {"]
    assert sorted(document["parked_reason"] for document in documents) == ["malformed", "malformed"]
    assert {document.get("version") for document in documents} == {1, 99}


def test_the_lambda_function_redrives_up_to_max_messages_and_counts(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(stack, "webhook-add-to-cart", "webhook-purchase", "webhook-checkout")
    stack.set_env("REDRIVE_MAX_ATTEMPTS", "2")
    capsys.readouterr()

    answer = lambda_handler({"max_messages": 2}, LocalLambdaContext(timeout_s=120))

    assert answer["messages_read"] == 2
    assert answer["redriven"] == {"messages": 2, "events": 2}
    assert answer["dry_run"] is False
    assert len(stack.dead_letters()) == 1
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [document["EventsRedriven"] for document in metrics] == [[2.0]]


def test_the_lambda_function_dry_run(stack: Stack) -> None:
    dead_letter(stack, "webhook-add-to-cart")

    answer = lambda_handler(
        {"dry_run": True, "max_messages": 1},
        LocalLambdaContext(timeout_s=120),
    )

    assert answer["dry_run"] is True
    assert answer["would_send"] == {"messages": 1, "events": 1}
    assert answer["left"] == {"dry_run": 1}
    assert len(stack.dead_letters()) == 1


def firehose_letter_with_its_own_token(stack: Stack) -> dict[str, Any]:
    """A Firehose request that brought its own token (unknown to the secret), dead-lettered by a 503."""
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN, "connection-token"])
    firehose = load_event("firehose-purchase")
    request = json.loads(firehose["body"])
    request["account"]["account_settings"]["accessToken"] = "connection-token"
    firehose["body"] = json.dumps(request)
    # (a passing failure of such a request is answered 503 for mParticle to resend: only a refusal stays)
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40105})
    status, answer = stack.invoke(firehose)
    assert (status, answer["dead_lettered"]) == (200, 1)
    [letter] = stack.dead_letters()
    assert letter["source"]["access_token"] == "request"
    assert "connection-token" not in json.dumps(letter)
    return letter


def test_a_firehose_letter_sent_with_its_own_token_is_parked_unsent_and_the_run_goes_on(
    stack: Stack,
) -> None:
    # Given a letter first sent with a Firehose request's own token (which was never stored)
    letter = firehose_letter_with_its_own_token(stack)
    # ...and a Webhook letter behind it; TikTok would accept the connector's own token
    dead_letter(stack, "webhook-purchase")
    [webhook_letter] = [other for other in stack.dead_letters() if other["source"]["origin"] == "webhook"]
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN])
    before = len(stack.sandbox.requests())

    report = run(stack)

    # Then the Firehose letter is parked with its reason, and the run went on to the Webhook letter
    assert report.parked == {"request_token_not_stored": 1}
    assert report.messages_redriven == 1
    assert report.stopped is None
    # ...and it never reached TikTok with the connector's token: only the Webhook letter was sent
    assert sent_since(stack, before) == [webhook_letter["request"]]
    [parked_letter] = parked(stack)
    assert parked_letter["source"]["access_token"] == "request"
    assert parked_letter["parked_reason"] == "request_token_not_stored"
    assert parked_letter["request"] == letter["request"]
    assert stack.dead_letters() == []


def test_without_a_parking_queue_a_letter_sent_with_its_own_token_stays_unsent(stack: Stack) -> None:
    letter = firehose_letter_with_its_own_token(stack)
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN])
    before = len(stack.sandbox.requests())

    report = run(stack, parking=False)

    assert report.left == {"request_token_not_stored": 1}
    assert report.stopped is None
    assert sent_since(stack, before) == []
    assert stack.dead_letters() == [letter]


def test_a_dry_run_plans_to_park_a_letter_sent_with_its_own_token(stack: Stack) -> None:
    firehose_letter_with_its_own_token(stack)
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN])

    report = run(stack, dry_run=True)

    assert report.would_park == {"request_token_not_stored": 1}
    assert (report.would_send_messages, report.would_send_events) == (0, 0)


def test_every_letter_it_cannot_replay_is_parked_with_its_reason_and_the_run_goes_on(stack: Stack) -> None:
    # Given, in one queue: a letter sent with a request's own token, one TikTok refused, one that used
    # up its attempts, one that is not a dead letter, and two retryable ones
    firehose_letter_with_its_own_token(stack)
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN])
    dead_letter(stack, "webhook-checkout", fault={"kind": "tiktok_code", "code": 40002})
    dead_letter(stack, "webhook-add-to-wishlist")
    sqs = boto3.client("sqs")
    taken: list[dict[str, Any]] = read_queue(stack.moto.url, stack.resources.queue_url, delete=True)
    for letter in taken:
        if letter["source"]["origin"] == "webhook" and letter["retryable"]:
            letter["redrive_attempts"] = 5  # as a letter looks after five failed replays
        sqs.send_message(QueueUrl=stack.resources.queue_url, MessageBody=json.dumps(letter))
    sqs.send_message(QueueUrl=stack.resources.queue_url, MessageBody="not a dead letter")
    dead_letter(stack, "webhook-add-to-cart", "webhook-purchase")
    assert len(read_queue_raw(stack)) == 6

    # When the redrive runs, and TikTok also refuses one of the two it replays
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
    report = run(stack)

    # Then each is parked with its reason, none stopped the run, and the last one went through
    assert report.messages_read == 6
    assert report.parked == {
        "request_token_not_stored": 1,
        "rejected": 2,
        "attempts_exhausted": 1,
        "malformed": 1,
    }
    assert report.messages_redriven == 1
    assert report.stopped is None
    assert stack.dead_letters() == []


# A letter leaves the dead-letter queue only once TikTok accepted it or its successor is written.
# These runs fail partway through a replay; each checks that the letter is still in the queue.


@pytest.mark.parametrize(
    ("fault", "max_attempts"),
    [({"kind": "tiktok_code", "code": 40002}, 5), ({"kind": "http_status", "status": 503}, 1)],
    # The letter is to be parked as `rejected`, or as `attempts_exhausted`.
    ids=["refused-by-tiktok", "attempts-used-up"],
)
def test_a_replayed_letter_stays_when_the_parking_queue_cannot_be_written(
    stack: Stack, fault: dict[str, Any], max_attempts: int
) -> None:
    # Given a retryable letter, which TikTok will not accept on its replay
    dead_letter(stack, "webhook-add-to-cart")
    before = stack.dead_letters()
    stack.sandbox.fail_next(fault)
    sent_before = len(stack.sandbox.requests())

    # When the letter should be parked but the parking queue cannot be written
    report = run(stack, max_attempts=max_attempts, parking_queue_url=stack.resources.parking_queue_url + "-x")

    # Then the replay did happen, the run stopped, and the letter is still there, unchanged
    assert [body["data"] for body in sent_since(stack, sent_before)] == [before[0]["request"]["data"]]
    assert report.stopped == "sqs_unavailable"
    assert (report.parked, report.requeued, report.messages_redriven) == ({}, {}, 0)
    assert report.left == {"sqs_unavailable": 1}
    assert stack.dead_letters() == before
    assert stack.sandbox.accepted_events() == []


def delete_secret(stack: Stack) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=stack.resources.secret_arn, ForceDeleteWithoutRecovery=True
    )


def test_letters_stay_untouched_when_the_secret_cannot_be_read(stack: Stack) -> None:
    # Given two retryable letters, and a secret that can no longer be read (none cached)
    dead_letter(stack, "webhook-add-to-cart", "webhook-purchase")
    before = stack.dead_letters()
    delete_secret(stack)
    clear_secret_cache()
    sent_before = len(stack.sandbox.requests())

    report = run(stack)

    # Then nothing was sent and both letters are still in the queue, unchanged
    assert report.stopped == "secret_unavailable"
    assert report.left == {"secret_unavailable": 2}
    assert sent_since(stack, sent_before) == []
    assert sorted(map(json.dumps, stack.dead_letters())) == sorted(map(json.dumps, before))


def test_a_letter_stays_in_the_queue_when_the_secret_cannot_be_read_again_after_a_refusal(
    stack: Stack,
) -> None:
    # Given two retryable letters and the secret's token in the cache (the handler read it) ...
    dead_letter(stack, "webhook-add-to-cart", "webhook-purchase")
    before = stack.dead_letters()
    # ... which TikTok no longer accepts, while the secret cannot be read again
    stack.sandbox.set_access_tokens(["rotated-token"])
    delete_secret(stack)
    sent_before = len(stack.sandbox.requests())

    report = run(stack)

    # Then the first replay was refused (40105) and the run stopped there
    assert [record.code for record in stack.sandbox.requests()[sent_before:]] == [40105]
    assert report.stopped == "token_rejected"
    assert (report.messages_redriven, report.parked) == (0, {})
    assert report.requeued == {"token_rejected": 1}
    assert report.left == {"token_rejected": 1}
    # ...and every letter is still in the queue with its request, the replayed one with its new error
    after = stack.dead_letters()
    assert event_ids(after) == event_ids(before)
    assert sorted(json.dumps(letter["request"]) for letter in after) == sorted(
        json.dumps(letter["request"]) for letter in before
    )
    assert sorted(letter["redrive_attempts"] for letter in after) == [0, 1]
    assert {letter["reason"] for letter in after if letter["redrive_attempts"] == 1} == {"token_rejected"}


def test_a_partial_success_on_replay_counts_as_redriven(stack: Stack) -> None:
    dead_letter(stack, "webhook-purchase")
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 20001})

    report = run(stack)

    assert (report.messages_redriven, report.requeued, report.parked) == (1, {}, {})
    assert stack.dead_letters() == []

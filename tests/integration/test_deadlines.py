"""Deadlines are total: an invocation ends before the Lambda deadline whatever TikTok or SQS do.

A TikTok that drips its answer one byte at a time (each byte within the read timeout, so only a deadline
on the whole answer stops it) and an SQS behind a proxy that holds every call, against a fake context
with 3 seconds left. Each invocation must end with time to spare and every event accounted for:
forwarded, dead-lettered (it is in the queue), or unaccounted and answered 503.
"""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

import pytest

from devstack.lambda_runtime import LocalLambdaContext, invoke
from devstack.tiktok_sandbox import TikTokSandbox
from tests.conftest import Stack
from tests.integration.slow_aws import SlowProxy
from tests.integration.test_faults import LONG_URL, SKIPPED_PER_BATCH, ids, webhook_batch, webhook_request
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy
from tiktok_connector.delivery.tiktok_client import TIMEOUT, encode_request_body, post_request, reset_session

TIME_ALLOWED_S: Final = 3.0
# The production timeouts (a POST may take 2 + 5 s, far more than the time left): only the deadline
# bounds the attempts; the reserves are scaled to a 3-second invocation.
POLICY: Final = RetryPolicy(
    max_attempts=4,
    base_delay_s=0.01,
    max_delay_s=0.02,
    reserve_ms=800,
    reserve_per_batch_ms=300,
    min_attempt_ms=300,
)
MEASURED: dict[str, float] = {}
ONE_EVENT: Final = encode_request_body(
    {
        "event_source": "web",
        "event_source_id": "PIXEL",
        "data": [{"event": "ViewContent", "event_id": "e-1", "event_time": 1700000000, "user": {}}],
    }
)


@pytest.fixture(autouse=True)
def deadline_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_POLICY", POLICY)


@pytest.fixture(scope="module", autouse=True)
def report_figures() -> Iterator[None]:
    yield
    figures = {name: round(seconds, 3) for name, seconds in sorted(MEASURED.items())}
    print(f"DEADLINE-FIGURES {json.dumps({'time_allowed_s': TIME_ALLOWED_S, 'longest_s': figures})}")


def invoke_with_deadline(name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    """Invoke with 3 s left; returns the answer and the time the context had left at the end."""
    context = LocalLambdaContext(timeout_s=TIME_ALLOWED_S)
    status, answer = invoke(webhook_request(body), context)
    left_s = context.get_remaining_time_in_millis() / 1000
    MEASURED[name] = max(MEASURED.get(name, 0.0), TIME_ALLOWED_S - left_s)
    return status, answer, left_s


def queued_event_ids(stack: Stack) -> list[str]:
    return [event["event_id"] for letter in stack.dead_letters() for event in letter["request"]["data"]]


def test_a_dripping_answer_is_cut_off_at_the_posts_deadline(sandbox: TikTokSandbox) -> None:
    # Given an answer whose bytes come every 20 ms: a read timeout of 1 s never trips, the whole takes ~6 s
    reset_session()
    sandbox.fail_next({"kind": "drip", "seconds_per_byte": 0.02})
    body = encode_request_body({"event_source": "web", "event_source_id": "P", "data": []})
    token = "local-sandbox-token"
    sent = post_request(
        sandbox.track_url, body, token=token, token_source=lambda _: token, timeouts=lambda: (0.5, 1.0)
    )
    # Then the POST is given up on as a timeout instead of waiting for the answer to end
    assert (sent.outcome, sent.answer, sent.posts) == (TIMEOUT, None, 1)
    reset_session()


def test_a_short_deadline_after_a_long_one_still_cuts_the_post_off(sandbox: TikTokSandbox) -> None:
    # Given a POST that ended well within a long deadline (the watchdog now sleeps until that one)
    reset_session()
    body = ONE_EVENT
    token = "local-sandbox-token"
    quick = post_request(
        sandbox.track_url, body, token=token, token_source=lambda _: token, timeouts=lambda: (5.0, 60.0)
    )
    assert quick.outcome.accepted
    # When the next POST has a deadline of 1.5 s and TikTok drips its answer over ~6 s
    sandbox.fail_next({"kind": "drip", "seconds_per_byte": 0.02})
    started = time.monotonic()
    sent = post_request(
        sandbox.track_url, body, token=token, token_source=lambda _: token, timeouts=lambda: (0.5, 1.0)
    )
    # Then it is cut off at its own deadline, not at the earlier POST's
    assert (sent.outcome, sent.answer, sent.posts) == (TIMEOUT, None, 1)
    assert time.monotonic() - started < 4.0
    reset_session()


def test_posts_share_one_deadline_thread(sandbox: TikTokSandbox) -> None:
    reset_session()
    body = ONE_EVENT
    token = "local-sandbox-token"

    def deadline_threads() -> int:
        return sum(thread.name == "tiktok-post-deadline" for thread in threading.enumerate())

    outcomes = [
        post_request(
            sandbox.track_url, body, token=token, token_source=lambda _: token, timeouts=lambda: (2.0, 5.0)
        ).outcome
        for _ in range(20)
    ]

    assert all(outcome.accepted for outcome in outcomes)
    assert deadline_threads() == 1
    reset_session()


@pytest.mark.parametrize(
    ("seconds_per_byte", "body_only"),
    [(1.0, False), (1.0, True), (0.05, False)],
    ids=["1s-whole", "1s-body", "50ms"],
)
def test_a_dripping_tiktok_cannot_hold_the_invocation_past_its_deadline(
    stack: Stack, seconds_per_byte: float, body_only: bool
) -> None:
    # Given TikTok dripping every answer
    drip = {"kind": "drip", "seconds_per_byte": seconds_per_byte, "body_only": body_only}
    stack.sandbox.set_random_faults(1.0, [drip])
    # When a batch arrives with 3 s left
    status, answer, left_s = invoke_with_deadline(
        f"drip_{seconds_per_byte}s_per_byte", webhook_batch("drip", 3)
    )
    # Then the invocation ends in time, the attempt cut off and its events dead-lettered for a replay
    assert left_s > 0
    assert status == 200
    assert (answer["forwarded"], answer["dead_lettered"], answer["skipped"]) == (0, 3, SKIPPED_PER_BATCH)
    assert answer["dead_letter_reasons"] == {"timeout": 3}
    [letter] = stack.dead_letters()
    assert (letter["reason"], letter["retryable"]) == ("timeout", True)
    assert set(queued_event_ids(stack)) == ids("drip", 3)


def test_a_slow_queue_that_keeps_up_still_takes_every_dead_letter(stack: Stack) -> None:
    with SlowProxy(stack.moto.url, delay_s=0.4) as proxy:
        stack.set_env("AWS_ENDPOINT_URL_SQS", proxy.url)
        stack.sandbox.set_random_faults(1.0, [{"kind": "tiktok_code", "code": 40001}])
        status, answer, left_s = invoke_with_deadline("sqs_0.4s_per_call", webhook_batch("slow-ok", 5))
        assert proxy.calls == 1
    assert left_s > 0
    assert (status, answer["dead_lettered"]) == (200, 5)
    assert set(queued_event_ids(stack)) == ids("slow-ok", 5)


def test_a_queue_too_slow_for_the_time_left_answers_503_in_time(stack: Stack) -> None:
    # Given 2,000 large events TikTok refuses (6 letters under 1 MiB, one call each) and an SQS that
    # takes 1.2 s a call
    with SlowProxy(stack.moto.url, delay_s=1.2) as proxy:
        stack.set_env("AWS_ENDPOINT_URL_SQS", proxy.url)
        stack.sandbox.set_random_faults(1.0, [{"kind": "tiktok_code", "code": 40001}])
        status, answer, left_s = invoke_with_deadline(
            "sqs_1.2s_per_call", webhook_batch("slow", 2000, url=LONG_URL)
        )
        # (calls given up on may still land: wait for them before reading the queue)
        time.sleep(proxy.delay_s + 0.5)
        calls = proxy.calls
    # Then the invocation ends in time; what was not written is unaccounted and answered 503
    assert left_s > 0
    assert status == 503 and answer["error"] == "unavailable"
    assert answer["forwarded"] == 0
    assert answer["dead_lettered"] + answer["unaccounted"] == 2000
    assert answer["unaccounted"] > 0
    # Every event the answer counts as dead-lettered is in the queue (a call given up on may add more)
    queued = queued_event_ids(stack)
    assert len(queued) == len(set(queued)) >= answer["dead_lettered"]
    assert set(queued) <= ids("slow", 2000)
    assert calls < 6
    figures = {"dead_lettered": answer["dead_lettered"], "unaccounted": answer["unaccounted"], "calls": calls}
    print(f"SLOW-SQS {json.dumps(figures)}")

"""The one function that posts a request to TikTok, with the token refresh, against the sandbox."""

import json
from collections.abc import Callable, Iterator

import pytest

from devstack.lambda_runtime import load_event
from devstack.local_aws import free_port
from devstack.tiktok_sandbox import TikTokSandbox
from tests.conftest import Stack
from tiktok_connector.delivery.tiktok_client import (
    CONNECTION_ERROR,
    DEADLINE_EXCEEDED,
    TIMEOUT,
    Sent,
    Timeouts,
    Verdict,
    encode_request_body,
    post_request,
    reset_session,
)
from tiktok_connector.platform.errors import SecretUnavailableError

OLD, NEW = "old-token", "new-token"
BODY = encode_request_body(
    {
        "event_source": "web",
        "event_source_id": "PIXEL",
        "data": [{"event": "ViewContent", "event_id": "e-1", "event_time": 1700000000, "user": {}}],
    }
)


@pytest.fixture(autouse=True)
def fresh_session() -> Iterator[None]:
    reset_session()
    yield
    reset_session()


class Secret:
    """A token source that records each read; `fresh` is what a read bypassing the cache gives."""

    def __init__(self, fresh: str | None = OLD, *, unreadable: bool = False) -> None:
        self.fresh = fresh
        self.unreadable = unreadable
        self.reads: list[bool] = []

    def __call__(self, force_fetch: bool) -> str | None:
        self.reads.append(force_fetch)
        if force_fetch and self.unreadable:
            raise SecretUnavailableError("unreadable")
        return self.fresh if force_fetch else OLD


def post(
    sandbox: TikTokSandbox, secret: Secret, timeouts: Callable[[], Timeouts | None] = lambda: (2.0, 5.0)
) -> Sent:
    return post_request(sandbox.track_url, BODY, token=OLD, token_source=secret, timeouts=timeouts)


def codes(sandbox: TikTokSandbox) -> list[int | None]:
    return [record.code for record in sandbox.requests()]


def test_an_accepted_request_is_one_post(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens([OLD])
    secret = Secret()

    sent = post(sandbox, secret)

    assert (sent.outcome.verdict, sent.posts, sent.token) == (Verdict.DELIVERED, 1, OLD)
    assert sent.answer is not None and sent.answer.code == 0
    assert len(sent.latencies_ms) == 1
    assert secret.reads == []


def test_partial_success_counts_as_accepted(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens([OLD])
    sandbox.fail_next({"kind": "tiktok_code", "code": 20001})

    sent = post(sandbox, Secret())

    assert sent.outcome.verdict is Verdict.PARTIAL
    assert sent.outcome.accepted
    assert sent.posts == 1


def test_a_rotated_token_is_read_again_and_the_post_repeated_once(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens([NEW])
    secret = Secret(fresh=NEW)

    sent = post(sandbox, secret)

    assert (sent.outcome.verdict, sent.posts, sent.token) == (Verdict.DELIVERED, 2, NEW)
    assert secret.reads == [True]
    assert codes(sandbox) == [40105, 0]
    assert len(sent.latencies_ms) == 2


def test_an_unchanged_token_gives_up_as_token_rejected(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens([NEW])
    secret = Secret(fresh=OLD)

    sent = post(sandbox, secret)

    assert (sent.outcome.verdict, sent.outcome.reason, sent.posts) == (
        Verdict.TOKEN_REJECTED,
        "token_rejected",
        1,
    )
    assert sent.outcome.retryable
    assert secret.reads == [True]
    assert codes(sandbox) == [40105]


def test_an_unreadable_secret_on_refresh_gives_up_as_token_rejected(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens([NEW])
    secret = Secret(unreadable=True)

    sent = post(sandbox, secret)

    assert (sent.outcome.reason, sent.posts, sent.token) == ("token_rejected", 1, OLD)
    assert secret.reads == [True]


def test_the_secret_is_read_again_only_once(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens(["someone-elses-token"])
    secret = Secret(fresh=NEW)

    sent = post(sandbox, secret)

    assert (sent.outcome.reason, sent.posts, sent.token) == ("token_rejected", 2, NEW)
    assert secret.reads == [True]
    assert codes(sandbox) == [40105, 40105]


def test_without_time_left_nothing_is_sent(sandbox: TikTokSandbox) -> None:
    sent = post(sandbox, Secret(), timeouts=lambda: None)

    assert (sent.outcome, sent.posts, sent.answer) == (DEADLINE_EXCEEDED, 0, None)
    assert sandbox.requests() == []


def test_without_time_left_for_the_second_post_the_refresh_stops_there(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens([NEW])
    budgets: list[Timeouts | None] = [(2.0, 5.0), None]

    sent = post(sandbox, Secret(fresh=NEW), timeouts=lambda: budgets.pop(0))

    assert (sent.outcome, sent.posts, sent.token) == (DEADLINE_EXCEEDED, 1, NEW)
    assert codes(sandbox) == [40105]


def test_no_answer_is_an_outcome_not_an_exception(sandbox: TikTokSandbox) -> None:
    closed = post_request(
        f"http://127.0.0.1:{free_port()}/track/",
        BODY,
        token=OLD,
        token_source=Secret(),
        timeouts=lambda: (1.0, 1.0),
    )
    sandbox.set_access_tokens([OLD])
    sandbox.fail_next({"kind": "delay", "seconds": 1.0})
    slow = post(sandbox, Secret(), timeouts=lambda: (1.0, 0.2))

    assert (closed.outcome, closed.posts, closed.answer) == (CONNECTION_ERROR, 1, None)
    assert (slow.outcome, slow.posts, slow.answer) == (TIMEOUT, 1, None)
    assert closed.outcome.retryable and slow.outcome.retryable


def test_a_server_error_keeps_tiktoks_answer(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next({"kind": "http_status", "status": 503})

    sent = post(sandbox, Secret())

    assert (sent.outcome.verdict, sent.outcome.reason) == (Verdict.RETRY, "server_error")
    assert sent.answer is not None and sent.answer.http_status == 503


def test_delivery_counts_a_partial_success_as_forwarded(stack: Stack) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 20001})

    status, answer = stack.invoke(load_event("webhook-purchase"))

    assert (status, answer["forwarded"], answer["dead_lettered"]) == (200, 1, 0), json.dumps(answer)
    assert stack.dead_letters() == []

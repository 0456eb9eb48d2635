"""The Firehose route's guards, end to end over the moto server and the TikTok sandbox.

Who may call before any work is done, whose token may reach which pixel, and what happens to events
whose request brought its own access token (which is never stored) when TikTok cannot take them.
"""

import json
import logging
from typing import Any

import pytest
from pytest_mock import MockerFixture

from devstack import demo
from devstack.lambda_runtime import http_api_event, load_event
from tests.conftest import Stack
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy
from tiktok_connector.platform.http_edge import MAX_BODY_BYTES
from tiktok_connector.routes import authentication
from tiktok_connector.routes import firehose as firehose_route
from tiktok_connector.routes.firehose import REGISTRATION_MAX_BYTES

AUTH = {"authorization": "Token " + demo.FIREHOSE_TOKEN}
OTHER_PIXEL = "C4OTHERPIXEL0002"
REQUEST_TOKEN = "per-connection-token"


def purchase(**settings: str) -> dict[str, Any]:
    """The Firehose purchase sample, with its account settings replaced when some are given."""
    message: dict[str, Any] = json.loads(load_event("firehose-purchase")["body"])
    if settings:
        message["account"]["account_settings"] = settings
    return message


def firehose_event(message: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return http_api_event(json.dumps(message), path="/firehose", headers=AUTH if headers is None else headers)


def padded(message: dict[str, Any], size: int) -> str:
    """`message` as JSON of exactly `size` bytes (an extra field carries the padding)."""
    text = json.dumps({**message, "padding": ""})
    return text[:-2] + "x" * (size - len(text)) + '"}'


def registration() -> dict[str, Any]:
    message: dict[str, Any] = json.loads(load_event("firehose-registration")["body"])
    return message


def without_firehose_token(stack: Stack) -> None:
    stack.put_secret({key: value for key, value in demo.SECRET.items() if key != "firehose_token"})


# -- authentication before work --------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"authorization": "Token wrong-token"}], ids=["missing", "wrong"])
@pytest.mark.parametrize("base64_encode", [False, True], ids=["text", "base64"])
def test_an_unauthenticated_5_mib_body_is_401_without_being_parsed(
    stack: Stack, mocker: MockerFixture, headers: dict[str, str], base64_encode: bool
) -> None:
    parse = mocker.spy(firehose_route, "parse_json")
    # Invalid JSON just under the limit: had it been parsed, the answer would be 400
    body = '{"type": "event_processing_request", "events": [' + "x" * (MAX_BODY_BYTES - 100)

    status, answer = stack.invoke(
        http_api_event(body, path="/firehose", headers=headers, base64_encode=base64_encode)
    )

    assert (status, answer["error"]) == (401, "unauthorized")
    assert parse.call_count == 0
    assert stack.sandbox.requests() == []


def test_an_unauthenticated_valid_5_mib_request_is_401_and_only_an_authenticated_one_is_read(
    stack: Stack, mocker: MockerFixture
) -> None:
    parse = mocker.spy(firehose_route, "parse_json")
    body = padded(purchase(), MAX_BODY_BYTES - 10)

    refused, refusal = stack.invoke(http_api_event(body, path="/firehose"))
    accepted, answer = stack.invoke(http_api_event(body, path="/firehose", headers=AUTH))

    assert (refused, refusal["error"]) == (401, "unauthorized")
    assert (accepted, answer["forwarded"]) == (200, 1)
    assert parse.call_count == 1  # the authenticated request only
    assert len(stack.sandbox.requests()) == 1


def test_registration_without_authorization_is_read_up_to_64_kib(stack: Stack) -> None:
    small = padded(registration(), REGISTRATION_MAX_BYTES)
    large = padded(registration(), REGISTRATION_MAX_BYTES + 1)

    small_status, small_answer = stack.invoke(http_api_event(small, path="/firehose"))
    large_status, large_answer = stack.invoke(http_api_event(large, path="/firehose"))
    signed_status, signed_answer = stack.invoke(http_api_event(large, path="/firehose", headers=AUTH))

    assert (small_status, small_answer["type"]) == (200, "module_registration_response")
    assert (large_status, large_answer["error"]) == (401, "unauthorized")
    assert (signed_status, signed_answer["type"]) == (200, "module_registration_response")


def test_without_firehose_token_every_caller_gets_401_and_registration_still_works(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(authentication, "_reported_unset", set())
    without_firehose_token(stack)
    requests = [
        load_event("firehose-purchase"),  # mParticle's own header
        http_api_event(json.dumps(purchase()), path="/firehose"),  # anonymous
        http_api_event("{not json" + "x" * (MAX_BODY_BYTES - 100), path="/firehose"),  # anonymous, 5 MiB
    ]

    with caplog.at_level(logging.ERROR):
        answers = [stack.invoke(event) for event in requests]
        registered, answer = stack.invoke(http_api_event(json.dumps(registration()), path="/firehose"))

    assert [(status, body["error"]) for status, body in answers] == [(401, "unauthorized")] * 3
    assert (registered, answer["type"]) == (200, "module_registration_response")
    reports = [record for record in caplog.records if record.getMessage().startswith("misconfigured")]
    assert len(reports) == 1  # once per container, not once per request
    assert stack.sandbox.requests() == []


def test_a_firehose_token_added_to_the_secret_is_accepted(stack: Stack) -> None:
    without_firehose_token(stack)
    refused, _ = stack.invoke(load_event("firehose-purchase"))
    stack.put_secret(demo.SECRET)
    authentication._last_refresh = 0.0  # a second later in a real container

    status, answer = stack.invoke(load_event("firehose-purchase"))

    assert (refused, status, answer["forwarded"]) == (401, 200, 1)


# -- whose token for whose pixel ------------------------------------------------------------------


def test_another_pixel_with_the_connectors_token_is_403_and_sends_nothing(stack: Stack) -> None:
    status, answer = stack.invoke(firehose_event(purchase(pixelId=OTHER_PIXEL)))

    assert (status, answer["error"]) == (403, "forbidden")
    assert OTHER_PIXEL in answer["message"] and "ALLOWED_PIXEL_IDS" in answer["message"]
    assert demo.ACCESS_TOKEN not in json.dumps(answer)
    assert stack.sandbox.requests() == []
    assert stack.dead_letters() == []


def test_the_pixels_in_allowed_pixel_ids_are_reached_with_the_connectors_token(stack: Stack) -> None:
    stack.set_env("ALLOWED_PIXEL_IDS", f" {OTHER_PIXEL} ,C4THIRDPIXEL0003,")

    other, other_answer = stack.invoke(firehose_event(purchase(pixelId=OTHER_PIXEL)))
    default, default_answer = stack.invoke(firehose_event(purchase(pixelId=demo.PIXEL_ID)))

    # The list replaces the default: TIKTOK_PIXEL_ID is no longer allowed unless listed
    assert (other, other_answer["forwarded"]) == (200, 1)
    assert (default, default_answer["error"]) == (403, "forbidden")
    assert [request.body["event_source_id"] for request in stack.sandbox.requests()] == [OTHER_PIXEL]


def test_without_any_pixel_id_only_requests_with_their_own_token_are_sent(stack: Stack) -> None:
    stack.del_env("TIKTOK_PIXEL_ID")
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN, REQUEST_TOKEN])

    refused, refusal = stack.invoke(firehose_event(purchase(pixelId=demo.PIXEL_ID)))
    own, own_answer = stack.invoke(firehose_event(purchase(pixelId=OTHER_PIXEL, accessToken=REQUEST_TOKEN)))

    assert (refused, refusal["error"]) == (403, "forbidden")
    assert (own, own_answer["forwarded"]) == (200, 1)
    [sent] = stack.sandbox.requests()
    assert sent.body["event_source_id"] == OTHER_PIXEL


def test_an_invalid_allowed_pixel_ids_is_reported_by_name(stack: Stack) -> None:
    stack.set_env("ALLOWED_PIXEL_IDS", f"{demo.PIXEL_ID},not a pixel")

    status, answer = stack.invoke(load_event("firehose-purchase"))

    assert (status, answer["error"]) == (500, "misconfigured")
    assert "ALLOWED_PIXEL_IDS" in answer["message"]


# -- requests that bring their own access token ---------------------------------------------------


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy(
        max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, read_timeout_s=0.3, reserve_ms=500
    )
    monkeypatch.setattr(delivery, "RETRY_POLICY", policy)


def own_token_request() -> dict[str, Any]:
    return firehose_event(purchase(pixelId=demo.PIXEL_ID, accessToken=REQUEST_TOKEN))


def sent_event_ids(stack: Stack) -> list[str]:
    return [event["event_id"] for request in stack.sandbox.requests() for event in request.body["data"]]


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"kind": "http_status", "status": 503}, "server_error"),
        ({"kind": "http_status", "status": 429}, "rate_limited"),
        ({"kind": "tiktok_code", "code": 40100}, "rate_limited"),
        ({"kind": "delay", "seconds": 0.6}, "timeout"),
        ({"kind": "reset"}, "connection_error"),
    ],
    ids=["5xx", "429", "40100", "timeout", "reset"],
)
def test_a_passing_failure_with_the_requests_own_token_is_answered_503_not_dead_lettered(
    stack: Stack, fault: dict[str, Any], reason: str
) -> None:
    # Given TikTok fails every attempt made with the request's own token
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN, REQUEST_TOKEN])
    stack.sandbox.fail_next(fault, fault, fault)
    event = own_token_request()

    status, answer = stack.invoke(event)

    # Then mParticle is asked to resend (it holds the token); nothing is kept without it
    assert status == 503
    assert (answer["error"], answer["unaccounted"]) == ("unavailable", 1)
    assert answer["resend_reasons"] == {reason: 1}
    assert answer["received"] == answer["forwarded"] + answer["dead_lettered"] + answer["unaccounted"]
    assert answer["id"] == purchase()["id"]
    assert REQUEST_TOKEN not in json.dumps(answer)
    assert stack.dead_letters() == []
    assert answer["tiktok_requests"] == 3

    # When mParticle resends the same request and TikTok is back
    resent, resent_answer = stack.invoke(event)

    # Then it is delivered under the event id every failed attempt carried
    assert (resent, resent_answer["forwarded"]) == (200, 1)
    # (a timed-out attempt may have reached TikTok too: the shared event id lets TikTok deduplicate it)
    accepted_ids = {delivered["event_id"] for delivered in stack.sandbox.accepted_events()}
    assert accepted_ids == {"fa7144e0-8d91-45a8-a818-2b9e9060b76b"}
    assert set(sent_event_ids(stack)) == accepted_ids


@pytest.mark.usefixtures("fast_retries")
def test_a_refusal_with_the_requests_own_token_is_dead_lettered_as_final(stack: Stack) -> None:
    stack.sandbox.set_access_tokens([demo.ACCESS_TOKEN, REQUEST_TOKEN])
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter"})

    status, answer = stack.invoke(own_token_request())

    assert (status, answer["dead_lettered"], answer["dead_letter_reasons"]) == (200, 1, {"rejected": 1})
    assert "resend_reasons" not in answer
    [letter] = stack.dead_letters()
    assert (letter["reason"], letter["retryable"]) == ("rejected", False)
    assert letter["source"]["access_token"] == "request"
    assert REQUEST_TOKEN not in json.dumps(letter)


@pytest.mark.usefixtures("fast_retries")
def test_a_passing_failure_with_the_connectors_token_is_still_dead_lettered(stack: Stack) -> None:
    # The secret's token is at hand for the redrive: these events are kept and answered 200
    stack.sandbox.fail_next(*[{"kind": "http_status", "status": 503}] * 3)

    status, answer = stack.invoke(load_event("firehose-purchase"))

    assert (status, answer["dead_lettered"], answer["dead_letter_reasons"]) == (200, 1, {"server_error": 1})
    [letter] = stack.dead_letters()
    assert (letter["retryable"], letter["source"]["access_token"]) == (True, "secret")

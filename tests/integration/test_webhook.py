"""The Webhook route end to end: real handler in-process, moto server and the TikTok sandbox over sockets."""

import json
from typing import Any

import pytest

from devstack import demo, golden
from devstack.lambda_runtime import http_api_event, load_event
from tests.conftest import Stack
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy

AUTH = {"authorization": demo.WEBHOOK_AUTHORIZATION}
RAW_IDENTITIES = (
    "jane.doe@example.com",
    "CUST-10042",
    "+14155550123",
    "(415) 555-0123",
    "Sam.Smith@Example.org",
)


def batch_event(batch: Any, **kwargs: Any) -> dict[str, Any]:
    return http_api_event(json.dumps(batch), headers=AUTH, **kwargs)


def sample_batch(name: str) -> Any:
    return json.loads(load_event(name)["body"])


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy(
        max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, read_timeout_s=1.0, reserve_ms=500
    )
    monkeypatch.setattr(delivery, "RETRY_POLICY", policy)


def golden_event_names(name: str) -> list[str]:
    """The TikTok event names the sample's golden file in events/expected/ records, in order."""
    return [event["event"] for event in golden.expected_tiktok_events(name)]


@pytest.mark.parametrize(
    "name",
    [
        "webhook-purchase",
        "webhook-add-to-cart",
        "webhook-add-to-wishlist",
        "webhook-checkout",
        "webhook-view-detail-int64-as-strings",
        "webhook-custom-mapped",
    ],
)
def test_each_sample_reaches_tiktok_in_one_request_as_its_golden_file_says(stack: Stack, name: str) -> None:
    # Given a sample from events/ and the TikTok events its golden file records
    expected_events = golden_event_names(name)
    assert expected_events

    # When the handler receives it
    status, body = stack.invoke(load_event(name))

    # Then it answers 200 with a summary, and TikTok got the mapped events in one request
    assert status == 200
    assert body["forwarded"] == len(expected_events)
    assert body["received"] == body["forwarded"] + sum(body["skipped"].values()) + body["dead_lettered"]
    requests = stack.sandbox.requests()
    assert [r.code for r in requests] == [0]
    sent = requests[0].body
    assert sent is not None
    assert sent["event_source"] == "web"
    assert sent["event_source_id"] == demo.PIXEL_ID
    assert [event["event"] for event in sent["data"]] == expected_events
    assert "test_event_code" not in sent
    assert stack.dead_letters() == []


def test_purchase_request_is_exact(stack: Stack) -> None:
    # The purchase sample carries its own timestamps: its golden event has no placeholder, so it is exact
    [expected] = golden.expected_tiktok_events("webhook-purchase")
    assert golden.NOW not in golden.canonical(expected)

    status, _ = stack.invoke(load_event("webhook-purchase"))

    assert status == 200
    [event] = stack.sandbox.accepted_events()
    assert event == expected
    assert golden.matches(event, expected)  # numbers as written, too (25.0 is not 25)


def test_array_of_batches_accounts_for_every_event(stack: Stack) -> None:
    expected = golden.load_expected("webhook-array-of-batches")["answer"]

    status, body = stack.invoke(load_event("webhook-array-of-batches"))

    assert status == expected["status"] == 200
    for field in ("received", "forwarded", "skipped", "dead_lettered", "warnings"):
        assert body[field] == expected["body"][field], field
    assert body["received"] == body["forwarded"] + sum(body["skipped"].values()) + body["dead_lettered"]
    assert set(body["skipped"]) == {"invalid_event", "invalid_page_url", "unsupported_event"}
    assert body["dead_lettered"] == 0
    assert set(body["warnings"]) == {"missing_ip"}


def test_user_without_identifiers_is_skipped(stack: Stack) -> None:
    status, body = stack.invoke(load_event("webhook-no-identifiers"))

    assert (status, body["skipped"], body["forwarded"]) == (200, {"no_identifiers": 1}, 0)
    assert stack.sandbox.requests() == []


def test_base64_body_is_decoded(stack: Stack) -> None:
    status, body = stack.invoke(batch_event(sample_batch("webhook-purchase"), base64_encode=True))

    assert (status, body["forwarded"]) == (200, 1)


def test_test_event_code_goes_top_level(stack: Stack) -> None:
    stack.set_env("TIKTOK_TEST_EVENT_CODE", "TEST12345")

    stack.invoke(load_event("webhook-purchase"))

    [request] = stack.sandbox.requests()
    assert request.body is not None
    assert request.body["test_event_code"] == "TEST12345"
    assert all("test_event_code" not in event for event in request.body["data"])


def test_more_than_1000_events_are_split_into_the_fewest_requests(stack: Stack) -> None:
    batch = sample_batch("webhook-add-to-cart")
    template = batch["events"][0]
    batch["events"] = []
    for index in range(2001):
        event = json.loads(json.dumps(template))
        event["data"]["source_message_id"] = f"msg-{index}"
        batch["events"].append(event)

    status, body = stack.invoke(batch_event(batch))

    assert (status, body["forwarded"], body["tiktok_requests"]) == (200, 2001, 3)
    assert [len(r.body["data"]) for r in stack.sandbox.requests() if r.body] == [1000, 1000, 1]


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Basic d3Jvbmc="}, {"authorization": demo.WEBHOOK_AUTHORIZATION + "x"}],
    ids=["missing", "wrong", "longer"],
)
def test_wrong_or_missing_authorization_is_401_and_reaches_nothing(
    stack: Stack, headers: dict[str, str]
) -> None:
    event = http_api_event(load_event("webhook-purchase")["body"], headers=headers)

    status, body = stack.invoke(event)

    assert status == 401
    assert body["error"] == "unauthorized"
    assert stack.sandbox.requests() == []


def test_authorization_is_checked_before_the_body_is_read(stack: Stack) -> None:
    status, body = stack.invoke(http_api_event("{not json", headers={"authorization": "nope"}))

    assert (status, body["error"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"events": [', "not valid JSON"),
        ('"a string"', "batch"),
        ("[1, 2]", "batch[0]"),
        ('{"events": {"a": 1}}', "events"),
        ('{"events": [], "user_identities": "jane"}', "user_identities"),
        ("", "no body"),
    ],
)
def test_bad_requests_are_400_with_a_clear_message(stack: Stack, body: str, fragment: str) -> None:
    status, answer = stack.invoke(http_api_event(body, headers=AUTH))

    assert status == 400
    assert answer["error"] == "bad_request"
    assert fragment in answer["message"]
    assert stack.sandbox.requests() == []


def test_the_bad_request_sample_is_400(stack: Stack) -> None:
    status, answer = stack.invoke(load_event("webhook-bad-request"))

    assert (status, answer["error"]) == (400, "bad_request")


def test_body_over_5_mib_is_413(stack: Stack) -> None:
    body = '{"events": [], "padding": "' + "x" * (5 * 1024 * 1024) + '"}'

    status, answer = stack.invoke(http_api_event(body, headers=AUTH))

    assert (status, answer["error"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        (
            "CUSTOM_MAPPINGS",
            '[{"match": {"event_type": "custom_event"}, "tiktok_event": "Nope"}]',
            "CUSTOM_MAPPINGS[0]",
        ),
        ("CONTENT_TYPE", "sku", "CONTENT_TYPE"),
        ("EMAIL_IDENTITY_TYPE", "fax", "EMAIL_IDENTITY_TYPE"),
        ("DEFAULT_PHONE_REGION", "XX", "DEFAULT_PHONE_REGION"),
    ],
)
def test_misconfiguration_is_a_clear_500(stack: Stack, name: str, value: str, fragment: str) -> None:
    stack.set_env(name, value)

    status, answer = stack.invoke(load_event("webhook-purchase"))

    assert status == 500
    assert answer["error"] == "misconfigured"
    assert fragment in answer["message"]
    assert stack.sandbox.requests() == []


def test_missing_pixel_id_is_misconfigured(stack: Stack) -> None:
    stack.del_env("TIKTOK_PIXEL_ID")

    status, answer = stack.invoke(load_event("webhook-purchase"))

    assert (status, answer["error"]) == (500, "misconfigured")
    assert "TIKTOK_PIXEL_ID" in answer["message"]


@pytest.mark.usefixtures("fast_retries")
def test_retryable_failures_are_retried_then_delivered(stack: Stack) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40100}, {"kind": "http_status", "status": 502})

    status, body = stack.invoke(load_event("webhook-purchase"))

    assert (status, body["forwarded"], body["tiktok_requests"]) == (200, 1, 3)
    ids = {r.body["data"][0]["event_id"] for r in stack.sandbox.requests() if r.body}
    assert ids == {event["event_id"] for event in golden.expected_tiktok_events("webhook-purchase")}


@pytest.mark.usefixtures("fast_retries")
def test_exhausted_retries_are_dead_lettered_with_what_a_redrive_needs(stack: Stack) -> None:
    stack.sandbox.set_random_faults(1.0, [{"kind": "http_status", "status": 503}], seed=1)

    status, body = stack.invoke(load_event("webhook-purchase"))

    assert (status, body["forwarded"], body["dead_lettered"]) == (200, 0, 1)
    [letter] = stack.dead_letters()
    assert letter["reason"] == "server_error"
    assert letter["retryable"] is True
    assert letter["attempts"] == 3
    assert letter["error"]["http_status"] == 503
    [expected_event] = golden.expected_tiktok_events("webhook-purchase")
    assert letter["source"]["events"][0]["event_id"] == expected_event["event_id"]
    assert letter["source"]["events"][0]["batch_id"] == str(sample_batch("webhook-purchase")["batch_id"])
    assert letter["request"]["data"][0]["event"] == expected_event["event"]
    # The letter keeps the very request TikTok would have received: a replay sends it unchanged
    [expected_request] = golden.load_expected("webhook-purchase")["tiktok_requests"]
    assert golden.matches(letter["request"], expected_request["body"])
    text = json.dumps(letter)
    for secret in (demo.ACCESS_TOKEN, demo.WEBHOOK_AUTHORIZATION, *RAW_IDENTITIES):
        assert secret not in text


def test_rejection_is_dead_lettered_as_not_retryable_without_retrying(stack: Stack) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter"})

    status, body = stack.invoke(load_event("webhook-add-to-cart"))

    assert (status, body["dead_lettered"], body["tiktok_requests"]) == (200, 1, 1)
    [letter] = stack.dead_letters()
    assert (letter["reason"], letter["retryable"], letter["error"]["tiktok_code"]) == (
        "rejected",
        False,
        40002,
    )
    [expected_request] = golden.load_expected("webhook-add-to-cart")["tiktok_requests"]
    assert golden.matches(letter["request"], expected_request["body"])


def test_an_email_address_in_the_page_url_reaches_neither_tiktok_nor_the_dead_letter_queue(
    stack: Stack,
) -> None:
    batch = sample_batch("webhook-add-to-cart")
    flags = batch["events"][0]["data"]["custom_flags"]
    flags["TikTok.URL"] = "https://shop.example.com/welcome?utm_source=tiktok&email=sam.smith%40example.org"
    flags["TikTok.Referrer"] = "https://shop.example.com/signup?email=sam.smith@example.org&step=2"
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter"})

    status, body = stack.invoke(batch_event(batch))

    assert (status, body["dead_lettered"], body["warnings"]["email_removed_from_url"]) == (200, 1, 2)
    [sent] = [request.body for request in stack.sandbox.requests()]
    [letter] = stack.dead_letters()
    assert sent["data"][0]["page"] == {
        "url": "https://shop.example.com/welcome?utm_source=tiktok",
        "referrer": "https://shop.example.com/signup?step=2",
    }
    assert letter["request"]["data"][0]["page"] == sent["data"][0]["page"]
    assert "sam.smith" not in json.dumps(sent) + json.dumps(letter)


def test_rotated_token_is_refetched_once_and_used(stack: Stack) -> None:
    # Given TikTok only accepts a new token, and the secret was rotated after the connector cached it
    stack.invoke(load_event("webhook-add-to-cart"))
    stack.sandbox.set_access_tokens(["rotated-token"])
    stack.put_secret({**demo.SECRET, "tiktok_access_token": "rotated-token"})

    status, body = stack.invoke(load_event("webhook-purchase"))

    assert (status, body["forwarded"], body["dead_lettered"]) == (200, 1, 0)
    assert [r.code for r in stack.sandbox.requests()][-2:] == [40105, 0]


def test_revoked_token_is_dead_lettered_as_token_rejected(stack: Stack) -> None:
    stack.sandbox.set_access_tokens(["someone-elses-token"])

    status, body = stack.invoke(load_event("webhook-purchase"))

    assert (status, body["dead_lettered"]) == (200, 1)
    [letter] = stack.dead_letters()
    assert (letter["reason"], letter["retryable"]) == ("token_rejected", True)


def test_unreachable_queue_with_failing_tiktok_answers_503(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
    stack.set_env("DEAD_LETTER_QUEUE_URL", stack.resources.queue_url.replace("-dlq", "-missing"))

    status, body = stack.invoke(load_event("webhook-purchase"))

    assert status == 503
    assert body["error"] == "unavailable"
    assert body["unaccounted"] == 1


def test_unknown_route_is_404_and_wrong_method_is_405(stack: Stack) -> None:
    unknown = http_api_event("{}", path="/nope", headers=AUTH)
    wrong_method = http_api_event("{}", headers=AUTH)
    wrong_method["routeKey"] = "GET /events"

    assert stack.invoke(unknown)[0] == 404
    assert stack.invoke(wrong_method)[0] == 405
    assert stack.sandbox.requests() == []


def test_a_rotated_authorization_is_accepted_at_once_and_the_old_one_refused(stack: Stack) -> None:
    # Given the connector cached the secret, then the operator rotated the Webhook credential
    assert stack.invoke(load_event("webhook-purchase"))[0] == 200
    stack.put_secret({**demo.SECRET, "mparticle_authorization": "Basic cm90YXRlZA=="})

    # When mParticle sends the new value, Then it is accepted (a 401 would not be retried: events lost)
    rotated = http_api_event(
        load_event("webhook-purchase")["body"], headers={"authorization": "Basic cm90YXRlZA=="}
    )
    assert stack.invoke(rotated)[0] == 200
    # And the old value is refused
    assert stack.invoke(load_event("webhook-purchase"))[0] == 401


def test_an_unauthenticated_caller_is_refused_before_learning_of_a_webhook_misconfiguration(
    stack: Stack,
) -> None:
    stack.del_env("TIKTOK_PIXEL_ID")

    status, answer = stack.invoke(http_api_event("{}", headers={"authorization": "guess"}))

    assert (status, answer["error"]) == (401, "unauthorized")

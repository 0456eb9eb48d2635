"""The Firehose route end to end: real handler in-process, moto server and the TikTok sandbox over sockets.

The twin tests describe the same events once and send them both ways (Webhook batch to /events,
Firehose request to /firehose): TikTok must receive identical request bodies.
"""

import hashlib
import json
import uuid
from typing import Any

import pytest

from devstack import demo, golden
from devstack.lambda_runtime import http_api_event, load_event
from tests.conftest import Stack
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy

AUTH = {"authorization": "Token " + demo.FIREHOSE_TOKEN}
WEBHOOK_AUTH = {"authorization": demo.WEBHOOK_AUTHORIZATION}
IP = "203.0.113.24"
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
# The same user in both protocols: raw values, and what the connector makes of them before hashing.
RAW_USER = {
    "email": " Sam.Smith@Example.org ",
    "customer_id": "CUST-20077",
    "mobile_number": "(212) 555-0147",
}
NORMALISED_USER = {
    "email": "sam.smith@example.org",
    "customer_id": "CUST-20077",
    "mobile_number": "+12125550147",
}
FIREHOSE_TYPE = {"email": "email", "customer_id": "customer", "mobile_number": "mobile_number"}
FLAGS = {
    "TikTok.URL": "https://shop.example.com/p/1077218",
    "TikTok.Referrer": "https://shop.example.com/",
    "TikTok.Callback": "E.C.P.v3fQ2RHacdksKfofPmlyuStIIHJ4Af1tKYxF9zz2c2PLx1Oaw15oHpcfl5AH",
    "TikTok.TTP": "2F7h37YkS1j57AYSKTI7IHhJPYH",
}
# Match-quality signals of the same user, each route with its own names: the device's locale (Firehose
# devices send the country as `en_US`), mParticle's reserved user attributes in either case, and a CCPA
# opt-out of the sale of their data (the SDK's schema name on the Webhook, its examples' on Firehose).
USER_ATTRIBUTES = {"$FirstName": "Sam", "$LastName": "Smith", "$Zip": "10001", "$City": "New York"}
OPTED_OUT = {"data_sale_opt_out": {"consented": True, "timestamp_unixtime_ms": 1741000000000}}
SETTINGS = {
    "pixelId": demo.PIXEL_ID,
    "emailIdentityType": "Email",
    "externalIdentityType": "Customer ID",
    "phoneIdentityType": "Mobile Number",
    "contentType": "product",
}


def firehose_event(message: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return http_api_event(json.dumps(message), path="/firehose", headers=AUTH if headers is None else headers)


def sample_body(name: str) -> Any:
    return json.loads(load_event(name)["body"])


# -- one description, two protocols -------------------------------------------------------------


def commerce(action: str, uuid: str, server_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "commerce",
        "action": action,
        "uuid": uuid,
        "server_id": server_id,
        "timestamp_ms": 1741954212345 + server_id % 1000,
        "transaction_id": "ORD-2025-000777",
        "total_amount": 69.97,
        "currency_code": "usd",
        "products": [
            {
                "id": 1077218,
                "name": "Trail Running Shoe",
                "category": "apparel",
                "price": 24.99,
                "quantity": 2,
            },
            {
                "id": "2203001",
                "name": "Sport Socks",
                "category": "apparel",
                "price": "19.99",
                "quantity": "1",
            },
        ],
        "attributes": {"checkout_variant": "one-page"},
        "flags": FLAGS,
        **extra,
    }


def custom(
    name: str, custom_event_type: str, uuid: str, server_id: int, attributes: dict[str, Any]
) -> dict[str, Any]:
    return {
        "kind": "custom",
        "name": name,
        "custom_event_type": custom_event_type,
        "uuid": uuid,
        "server_id": server_id,
        "timestamp_ms": 1741954150000 + server_id % 1000,
        "attributes": attributes,
        "flags": {"TikTok.URL": "https://shop.example.com/checkout/payment"},
    }


def webhook_batch(events: list[dict[str, Any]]) -> dict[str, Any]:
    def render(spec: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event_id": spec["server_id"],
            "source_message_id": spec["uuid"],
            "timestamp_unixtime_ms": spec["timestamp_ms"],
            "custom_attributes": spec["attributes"],
            "custom_flags": spec["flags"],
        }
        if spec["kind"] == "custom":
            data |= {"event_name": spec["name"], "custom_event_type": spec["custom_event_type"]}
            return {"event_type": "custom_event", "data": data}
        data["currency_code"] = spec["currency_code"]
        data["product_action"] = {
            "action": spec["action"],
            "transaction_id": spec["transaction_id"],
            "total_amount": spec["total_amount"],
            "products": [{**product, "custom_attributes": {"size": "42"}} for product in spec["products"]],
        }
        return {"event_type": "commerce_event", "data": data}

    return {
        "events": [render(spec) for spec in events],
        "user_identities": [
            {"identity_type": kind, "identity": value, "timestamp_unixtime_ms": 1741000000000}
            for kind, value in RAW_USER.items()
        ],
        "device_info": {
            "platform": "web",
            "http_header_user_agent": USER_AGENT,
            "locale_language": "en",
            "locale_country": "US",
        },
        "user_attributes": USER_ATTRIBUTES,
        "consent_state": {"ccpa": OPTED_OUT},
        "ip": IP,
        "mpid": 8346244611012968789,
        "batch_id": 4619462417291384522,
        "timestamp_unixtime_ms": 1741954213001,
    }


def server_uuid(client_uuid: str) -> str:
    """mParticle's own id for an event: another UUID than the client's message id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, client_uuid))


def firehose_request(events: list[dict[str, Any]], encoding: str = "raw") -> dict[str, Any]:
    def render(spec: dict[str, Any]) -> dict[str, Any]:
        # As real Firehose events come: mParticle's own `id` and the client's message id as `source_id`
        # (the Webhook's `source_message_id`).
        event: dict[str, Any] = {
            "id": server_uuid(spec["uuid"]),
            "source_id": spec["uuid"],
            "session_id": 6051321688317951794,
            "timestamp_ms": spec["timestamp_ms"],
            "attributes": spec["attributes"],
            "custom_flags": spec["flags"],
        }
        if spec["kind"] == "custom":
            return {
                "type": "custom_event",
                **event,
                "name": spec["name"],
                "custom_event_type": spec["custom_event_type"],
            }
        return {
            "type": "product_action",
            **event,
            "action": spec["action"],
            "transaction_id": spec["transaction_id"],
            "total_amount": spec["total_amount"],
            "currency_code": spec["currency_code"],
            "products": [{**product, "attributes": {"size": "42"}} for product in spec["products"]],
        }

    def identity(kind: str) -> dict[str, str]:
        if encoding == "raw":
            return {"type": FIREHOSE_TYPE[kind], "encoding": "raw", "value": RAW_USER[kind]}
        digest = hashlib.sha256(NORMALISED_USER[kind].encode("utf-8")).hexdigest()
        return {"type": FIREHOSE_TYPE[kind], "encoding": "sha256", "value": digest}

    return {
        "type": "event_processing_request",
        "id": "c0ffee00-1234-4abc-9def-0123456789ab",
        "timestamp_ms": 1741954213001,
        "firehose_version": "3.2.0",
        "account": {"account_id": 123456, "account_settings": SETTINGS},
        "user_identities": [identity(kind) for kind in RAW_USER],
        "runtime_environment": {
            "type": "mobileweb",
            "client_ip_address": IP,
            "http_header_user_agent": USER_AGENT,
            "locale_language": "en",
            "locale_country": "en_US",
        },
        "user_attributes": {name.lower(): value for name, value in USER_ATTRIBUTES.items()},
        "consent_state": {"ccpa_consent_state": OPTED_OUT},
        "events": [render(spec) for spec in events],
        "mpid": "8346244611012968789",
    }


def tiktok_bodies_for(stack: Stack, event: dict[str, Any]) -> tuple[int, dict[str, Any], list[Any]]:
    before = len(stack.sandbox.requests())
    status, answer = stack.invoke(event)
    return status, answer, [request.body for request in stack.sandbox.requests()[before:]]


def outcome(answer: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(answer[key] for key in ("received", "forwarded", "skipped", "dead_lettered", "warnings"))


NATIVE_CASES = [
    ("add_to_cart", "AddToCart"),
    ("add_to_wishlist", "AddToWishlist"),
    ("purchase", "PlaceAnOrder"),
    ("checkout", "InitiateCheckout"),
    ("view_detail", "ViewContent"),
]
CUSTOM_EVENTS = [
    custom(
        "Payment Info Added", "transaction", "1f2e3d4c-0000-4000-8000-000000000001", 9100, {"amount": "74.50"}
    ),
    custom("Site Search", "search", "1f2e3d4c-0000-4000-8000-000000000002", 9101, {"search_term": "socks"}),
    custom("Newsletter Signup", "user_preference", "1f2e3d4c-0000-4000-8000-000000000003", 9102, {}),
    commerce("refund", "1f2e3d4c-0000-4000-8000-000000000004", 9103),
]


@pytest.mark.parametrize("encoding", ["raw", "sha256"])
@pytest.mark.parametrize(("action", "tiktok_event"), NATIVE_CASES)
def test_native_mappings_produce_identical_tiktok_requests_from_both_protocols(
    stack: Stack, action: str, tiktok_event: str, encoding: str
) -> None:
    # Given one commerce event described for both protocols
    index = [case[0] for case in NATIVE_CASES].index(action)
    events = [commerce(action, f"5d0c1e2f-3a4b-4c5d-8e6f-00000000000{index}", 7000 + index)]

    # When each protocol delivers it through the real handler
    w_status, w_answer, from_webhook = tiktok_bodies_for(
        stack, http_api_event(json.dumps(webhook_batch(events)), headers=WEBHOOK_AUTH)
    )
    f_status, f_answer, from_firehose = tiktok_bodies_for(
        stack, firehose_event(firehose_request(events, encoding))
    )

    # Then TikTok received the same request body, and mParticle the same counts
    assert (w_status, f_status) == (200, 200)
    assert [body["data"][0]["event"] for body in from_webhook] == [tiktok_event]
    assert from_firehose == from_webhook
    assert from_firehose[0]["data"][0]["event_id"] == events[0]["uuid"] != server_uuid(events[0]["uuid"])
    assert outcome(f_answer) == outcome(w_answer)
    assert f_answer["forwarded"] == 1
    # with every match-quality signal, and the user's CCPA opt-out
    sent = from_firehose[0]["data"][0]
    assert sent["limited_data_use"] is True
    assert (sent["user"]["ttp"], sent["user"]["locale"], sent["user"]["city"]) == (
        FLAGS["TikTok.TTP"],
        "en-US",
        "newyork",
    )
    assert sent["user"]["first_name"] == hashlib.sha256(b"sam").hexdigest()
    assert f_answer["match_keys"] == w_answer["match_keys"]
    assert (f_answer["match_keys"]["ttp"], f_answer["match_keys"]["advanced_matching"]) == (1, 1)


@pytest.mark.parametrize("encoding", ["raw", "sha256"])
def test_custom_mappings_produce_identical_tiktok_requests_from_both_protocols(
    stack: Stack, encoding: str
) -> None:
    w_status, w_answer, from_webhook = tiktok_bodies_for(
        stack, http_api_event(json.dumps(webhook_batch(CUSTOM_EVENTS)), headers=WEBHOOK_AUTH)
    )
    f_status, f_answer, from_firehose = tiktok_bodies_for(
        stack, firehose_event(firehose_request(CUSTOM_EVENTS, encoding))
    )

    assert (w_status, f_status) == (200, 200)
    [sent] = from_webhook
    assert [event["event"] for event in sent["data"]] == ["AddPaymentInfo", "Search"]
    assert sent["data"][0]["properties"] == {"value": 74.5, "currency": "USD"}
    assert from_firehose == from_webhook
    assert outcome(f_answer) == outcome(w_answer)
    assert f_answer["skipped"] == {"unsupported_event": 2}


@pytest.mark.parametrize(
    ("firehose", "webhook"),
    [("firehose-purchase", "webhook-purchase"), ("firehose-custom-mapped", "webhook-custom-mapped")],
)
def test_each_firehose_sample_reaches_tiktok_as_its_webhook_twin(
    stack: Stack, firehose: str, webhook: str
) -> None:
    w_status, w_answer, from_webhook = tiktok_bodies_for(stack, load_event(webhook))
    f_status, f_answer, from_firehose = tiktok_bodies_for(stack, load_event(firehose))

    assert (w_status, f_status) == (200, 200)
    assert from_webhook and from_firehose == from_webhook
    assert outcome(f_answer) == outcome(w_answer)
    assert f_answer["type"] == "event_processing_response"
    assert f_answer["id"] == sample_body(firehose)["id"]
    assert isinstance(f_answer["timestamp_ms"], int) and f_answer["firehose_version"] == "3.2.0"


# -- registration, verification, other messages -------------------------------------------------


def test_registration_sample_needs_no_authorization(stack: Stack) -> None:
    event = load_event("firehose-registration")
    assert "authorization" not in event["headers"]

    status, answer = stack.invoke(event)

    assert status == 200
    assert answer["type"] == "module_registration_response"
    assert answer["id"] == sample_body("firehose-registration")["id"]
    settings = answer["event_processing_registration"]["account_settings"]
    assert [setting["id"] for setting in settings] == [
        "accessToken",
        "pixelId",
        "emailIdentityType",
        "externalIdentityType",
        "phoneIdentityType",
        "contentType",
    ]
    assert stack.sandbox.requests() == []


def test_registration_works_before_the_deployment_is_configured(stack: Stack) -> None:
    # mParticle imports the registration before it issues the token: no secret, no settings needed
    stack.del_env("SECRET_ID")
    registration = sample_body("firehose-registration")

    status, answer = stack.invoke(firehose_event(registration, headers={"authorization": "Token not-yet"}))
    events_status, events_answer = stack.invoke(load_event("firehose-purchase"))

    assert (status, answer["type"]) == (200, "module_registration_response")
    assert (events_status, events_answer["error"]) == (500, "misconfigured")


def test_verification_sample_is_answered_with_its_id_and_sends_nothing(stack: Stack) -> None:
    expected = golden.load_expected("firehose-verification")["answer"]

    status, answer = stack.invoke(load_event("firehose-verification"))

    assert status == expected["status"] == 200
    assert answer["id"] == sample_body("firehose-verification")["id"]
    assert isinstance(answer["timestamp_ms"], int)
    assert expected["body"]["timestamp_ms"] == golden.NOW
    assert {**answer, "timestamp_ms": golden.NOW} == expected["body"]
    assert (answer["received"], answer["forwarded"], answer["tiktok_requests"]) == (0, 0, 0)
    assert stack.sandbox.requests() == []


@pytest.mark.parametrize(
    ("request_type", "response_type"),
    [
        ("audience_subscription_request", "audience_subscription_response"),
        ("audience_membership_change_request", "audience_membership_change_response"),
        ("dsr_processing_request", "dsr_processing_response"),
    ],
)
def test_audience_and_dsr_messages_are_acknowledged_and_do_nothing(
    stack: Stack, request_type: str, response_type: str
) -> None:
    message = {
        "type": request_type,
        "id": "a1b2c3d4-0000-4000-8000-00000000abcd",
        "timestamp_ms": 1741954000000,
        "firehose_version": "3.2.0",
        "account": {"account_id": 1, "account_settings": {"pixelId": demo.PIXEL_ID}},
        "user_profiles": [
            {"user_identities": [{"type": "email", "encoding": "raw", "value": "x@example.com"}]}
        ],
    }

    status, answer = stack.invoke(firehose_event(message))

    assert status == 200
    assert (answer["type"], answer["id"], answer["firehose_version"]) == (
        response_type,
        message["id"],
        "3.2.0",
    )
    assert stack.sandbox.requests() == []
    assert stack.dead_letters() == []


# -- authentication and bad requests ------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Token wrong-token"},
        {"authorization": demo.FIREHOSE_TOKEN},
        {"authorization": "Bearer " + demo.FIREHOSE_TOKEN},
        {"authorization": "Token " + demo.FIREHOSE_TOKEN + "x"},
        {"authorization": demo.WEBHOOK_AUTHORIZATION},
    ],
    ids=["missing", "wrong", "no-scheme", "bearer", "longer", "webhook-credentials"],
)
@pytest.mark.parametrize("message", ["firehose-purchase", "firehose-verification", "audience"])
def test_wrong_or_missing_token_is_401_and_reaches_nothing(
    stack: Stack, headers: dict[str, str], message: str
) -> None:
    body = (
        {"type": "audience_subscription_request", "id": "a", "audience_id": 1}
        if message == "audience"
        else sample_body(message)
    )

    status, answer = stack.invoke(firehose_event(body, headers=headers))

    assert (status, answer["error"]) == (401, "unauthorized")
    assert stack.sandbox.requests() == []


def test_an_unauthenticated_malformed_body_is_401_not_400(stack: Stack) -> None:
    status, answer = stack.invoke(http_api_event("{not json", path="/firehose"))

    assert (status, answer["error"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"type": "event_processing_request", "events": [', "not valid JSON"),
        ("[1, 2]", "Firehose message"),
        ('{"id": "x"}', "type"),
        ('{"type": "event_processing_response", "id": "x"}', "event_processing_response"),
        ('{"type": "event_processing_request", "events": {"type": "custom_event"}}', "events"),
        ('{"type": "event_processing_request", "user_identities": "jane"}', "user_identities"),
        ("", "no body"),
    ],
)
def test_malformed_messages_are_400(stack: Stack, body: str, fragment: str) -> None:
    status, answer = stack.invoke(http_api_event(body, path="/firehose", headers=AUTH))

    assert (status, answer["error"]) == (400, "bad_request")
    assert fragment in answer["message"]
    assert stack.sandbox.requests() == []


def test_body_over_5_mib_is_413(stack: Stack) -> None:
    body = '{"type": "module_registration_request", "padding": "' + "x" * (5 * 1024 * 1024) + '"}'

    status, answer = stack.invoke(http_api_event(body, path="/firehose"))

    assert (status, answer["error"]) == (413, "payload_too_large")


def test_a_secret_without_firehose_token_refuses_callers_with_401(stack: Stack) -> None:
    # Anonymous callers reach this route: a missing token denies them all, never a server error
    stack.put_secret({key: value for key, value in demo.SECRET.items() if key != "firehose_token"})

    status, answer = stack.invoke(load_event("firehose-purchase"))

    assert (status, answer["error"]) == (401, "unauthorized")
    assert "firehose_token" in answer["message"]
    assert stack.sandbox.requests() == []


# -- settings come from each request ------------------------------------------------------------


def with_settings(**settings: str) -> dict[str, Any]:
    message: dict[str, Any] = sample_body("firehose-purchase")
    message["account"]["account_settings"] = settings
    return message


def test_pixel_content_type_and_identity_types_come_from_the_request(stack: Stack) -> None:
    stack.set_env("ALLOWED_PIXEL_IDS", f"{demo.PIXEL_ID},C4OTHERPIXEL0002")
    message = with_settings(
        pixelId="C4OTHERPIXEL0002",
        contentType="product_group",
        externalIdentityType="Other 2",
        emailIdentityType="other3",
    )
    message["user_identities"].append({"type": "other2", "encoding": "raw", "value": " loyalty-0007 "})

    status, answer = stack.invoke(firehose_event(message))

    assert (status, answer["forwarded"]) == (200, 1)
    [request] = stack.sandbox.requests()
    assert request.body["event_source_id"] == "C4OTHERPIXEL0002"
    [event] = request.body["data"]
    assert event["properties"]["content_type"] == "product_group"
    assert event["user"]["external_id"] == hashlib.sha256(b"loyalty-0007").hexdigest()
    assert "email" not in event["user"]  # the request chose other3, which this user does not have
    assert event["user"]["phone"] == hashlib.sha256(b"+14155550123").hexdigest()


def test_missing_identity_and_content_settings_take_the_registered_defaults(stack: Stack) -> None:
    status, _ = stack.invoke(firehose_event(with_settings(pixelId=demo.PIXEL_ID)))
    [event] = stack.sandbox.accepted_events()

    assert status == 200
    assert event["properties"]["content_type"] == "product"
    assert set(event["user"]) >= {"email", "phone", "external_id"}


def test_the_webhook_settings_do_not_apply_to_firehose(stack: Stack) -> None:
    # A Firehose-only deployment: no Pixel Id and a bad Webhook identity setting in the environment
    stack.del_env("TIKTOK_PIXEL_ID")
    stack.set_env("EMAIL_IDENTITY_TYPE", "fax")
    stack.set_env("CONTENT_TYPE", "sku")
    stack.set_env("ALLOWED_PIXEL_IDS", demo.PIXEL_ID)  # without TIKTOK_PIXEL_ID, no pixel by default

    status, answer = stack.invoke(load_event("firehose-purchase"))
    webhook_status, webhook_answer = stack.invoke(load_event("webhook-purchase"))

    assert (status, answer["forwarded"]) == (200, 1)
    assert stack.sandbox.accepted_events()[0]["properties"]["content_type"] == "product"
    assert (webhook_status, webhook_answer["error"]) == (500, "misconfigured")


def test_shared_settings_apply_to_firehose(stack: Stack) -> None:
    stack.set_env("TIKTOK_TEST_EVENT_CODE", "TEST12345")

    status, _ = stack.invoke(load_event("firehose-purchase"))

    assert status == 200
    [request] = stack.sandbox.requests()
    assert request.body["test_event_code"] == "TEST12345"


@pytest.mark.parametrize(
    ("variables", "event", "limited"),
    [
        ({}, "PlaceAnOrder", None),  # the defaults: the sample's user did not opt out of data sale
        ({"PURCHASE_EVENT": "CompletePayment", "LIMITED_DATA_USE": "always"}, "CompletePayment", True),
        ({"PURCHASE_EVENT": "Purchase", "LIMITED_DATA_USE": "never"}, "Purchase", None),
    ],
)
def test_the_match_settings_apply_to_both_routes_alike(
    stack: Stack, variables: dict[str, str], event: str, limited: bool | None
) -> None:
    for name, value in variables.items():
        stack.set_env(name, value)

    w_status, w_answer, from_webhook = tiktok_bodies_for(stack, load_event("webhook-purchase"))
    f_status, f_answer, from_firehose = tiktok_bodies_for(stack, load_event("firehose-purchase"))

    assert (w_status, f_status) == (200, 200)
    assert from_firehose == from_webhook
    assert outcome(f_answer) == outcome(w_answer)
    [sent] = from_firehose[0]["data"]
    assert (sent["event"], sent.get("limited_data_use")) == (event, limited)


def test_a_required_gdpr_purpose_skips_both_routes_events_without_it(stack: Stack) -> None:
    stack.set_env("GDPR_CONSENT_PURPOSE", "marketing")

    for sample in ("webhook-purchase", "firehose-purchase"):  # no GDPR consent in either
        status, answer, sent = tiktok_bodies_for(stack, load_event(sample))
        assert (status, answer["forwarded"], answer["skipped"], sent) == (200, 0, {"no_consent": 1}, [])
    # the custom-mapped twins carry consent to `marketing`: their events go (the others are unsupported)
    for sample in ("webhook-custom-mapped", "firehose-custom-mapped"):
        status, answer, _ = tiktok_bodies_for(stack, load_event(sample))
        assert (status, answer["forwarded"]) == (200, 2)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "pixelId"),
        ({"pixelId": demo.PIXEL_ID, "contentType": "sku"}, "contentType"),
        ({"pixelId": demo.PIXEL_ID, "emailIdentityType": "fax"}, "emailIdentityType"),
        ({"pixelId": demo.PIXEL_ID, "externalIdentityType": "Device ID"}, "externalIdentityType"),
        ({"pixelId": demo.PIXEL_ID, "phoneIdentityType": "landline"}, "phoneIdentityType"),
    ],
)
def test_a_bad_setting_is_400_naming_it_and_sends_nothing(
    stack: Stack, settings: dict[str, str], named: str
) -> None:
    status, answer = stack.invoke(firehose_event(with_settings(**settings)))

    assert (status, answer["error"]) == (400, "bad_request")
    assert f"account setting {named}" in answer["message"]
    assert stack.sandbox.requests() == []


def test_the_access_token_from_the_request_is_used(stack: Stack) -> None:
    # TikTok accepts only the request's token, not the secret's
    stack.sandbox.set_access_tokens(["per-connection-token"])

    status, answer = stack.invoke(
        firehose_event(with_settings(pixelId=demo.PIXEL_ID, accessToken="per-connection-token"))
    )

    assert (status, answer["forwarded"]) == (200, 1)
    assert [request.code for request in stack.sandbox.requests()] == [0]


def test_a_rejected_request_token_is_dead_lettered_as_token_rejected_without_refetching(stack: Stack) -> None:
    # Only mParticle holds the request's token: the letter is final (not retryable), for the redrive to park
    status, answer = stack.invoke(
        firehose_event(with_settings(pixelId=demo.PIXEL_ID, accessToken="revoked-token"))
    )

    assert (status, answer["dead_lettered"], answer["dead_letter_reasons"]) == (200, 1, {"token_rejected": 1})
    assert [request.code for request in stack.sandbox.requests()] == [40105]
    [letter] = stack.dead_letters()
    assert (letter["reason"], letter["retryable"]) == ("token_rejected", False)
    assert letter["source"]["origin"] == "firehose"
    [expected_event] = golden.expected_tiktok_events("firehose-purchase")
    assert letter["source"]["events"][0] == {
        "event_id": expected_event["event_id"],
        "batch_id": sample_body("firehose-purchase")["id"],
        "source_event_id": sample_body("firehose-purchase")["events"][0]["id"],
    }
    text = json.dumps(letter)
    for secret in (
        "revoked-token",
        demo.ACCESS_TOKEN,
        demo.FIREHOSE_TOKEN,
        "jane.doe@example.com",
        "CUST-10042",
    ):
        assert secret not in text


def test_without_request_token_and_without_secret_token_the_request_is_400(stack: Stack) -> None:
    stack.put_secret({key: value for key, value in demo.SECRET.items() if key != "tiktok_access_token"})

    status, answer = stack.invoke(load_event("firehose-purchase"))

    assert (status, answer["error"]) == (400, "bad_request")
    assert "accessToken" in answer["message"]


# -- delivery guarantees: the Webhook path's, shared ------------------------------------------------


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy(
        max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, read_timeout_s=1.0, reserve_ms=500
    )
    monkeypatch.setattr(delivery, "RETRY_POLICY", policy)


@pytest.mark.usefixtures("fast_retries")
def test_retryable_failures_are_retried_then_delivered(stack: Stack) -> None:
    stack.sandbox.fail_next({"kind": "http_status", "status": 503}, {"kind": "tiktok_code", "code": 40100})

    status, answer = stack.invoke(load_event("firehose-purchase"))

    assert (status, answer["forwarded"], answer["tiktok_requests"]) == (200, 1, 3)


def test_a_rejection_is_dead_lettered_with_origin_firehose(stack: Stack) -> None:
    # TikTok refuses the request, then each of its two events alone (the halves it is split into)
    stack.sandbox.fail_next(*[{"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter"}] * 3)

    status, answer = stack.invoke(load_event("firehose-custom-mapped"))

    assert (status, answer["forwarded"], answer["dead_lettered"]) == (200, 0, 2)
    [letter] = stack.dead_letters()
    assert (letter["reason"], letter["retryable"], letter["source"]["origin"]) == (
        "rejected",
        False,
        "firehose",
    )
    expected = golden.expected_tiktok_events("firehose-custom-mapped")
    assert [event["event"] for event in letter["request"]["data"]] == [event["event"] for event in expected]
    assert golden.matches(letter["request"]["data"], expected)


def test_events_neither_delivered_nor_dead_lettered_answer_503(stack: Stack) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
    stack.set_env("DEAD_LETTER_QUEUE_URL", stack.resources.queue_url.replace("-dlq", "-missing"))

    status, answer = stack.invoke(load_event("firehose-purchase"))

    assert status == 503
    assert (answer["error"], answer["unaccounted"]) == ("unavailable", 1)
    assert answer["id"] == golden.load_expected("firehose-purchase")["answer"]["body"]["id"]

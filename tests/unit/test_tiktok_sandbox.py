"""Tests for the local TikTok Events API sandbox, over real sockets with ``requests``."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.tiktok_sandbox import (
    CODE_INVALID_PARAMETER,
    CODE_OK,
    CODE_PARTIAL_SUCCESS,
    CODE_RATE_LIMITED,
    CODE_TOKEN_INVALID,
    DEFAULT_ACCESS_TOKEN,
    TRACK_PATH,
    TikTokSandbox,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = DEFAULT_ACCESS_TOKEN
HASH = "a" * 64
OTHER_HASH = "0123456789abcdef" * 4
EVENT_TIME = 1_700_000_000

Mutation = Callable[[dict[str, Any]], None]


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _running_sandbox() -> Iterator[TikTokSandbox]:
    # One server for the module keeps the suite fast; the function fixture resets it per test.
    with TikTokSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(_running_sandbox: TikTokSandbox) -> TikTokSandbox:
    _running_sandbox.reset()
    _running_sandbox.set_access_tokens([TOKEN])
    return _running_sandbox


def full_event(index: int = 0) -> dict[str, Any]:
    """An event using every field the sandbox accepts, with valid values."""
    return {
        "event": "PlaceAnOrder",
        "event_time": EVENT_TIME + index,
        "event_id": f"evt-{index}",
        "user": {
            "email": [HASH],
            "phone": HASH,
            "external_id": [HASH, OTHER_HASH],
            "ip": "203.0.113.5",
            "user_agent": "Mozilla/5.0",
            "ttclid": "E.C.P.abc",
            "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
            "locale": "en-US",
            "first_name": HASH,
            "last_name": OTHER_HASH,
            "zip_code": HASH,
            "city": "sanfrancisco",
            "state": "ca",
            "country": "us",
            "idfa": "IDFA-VALUE",
            "idfv": "IDFV-VALUE",
            "gaid": "gaid-value",
            "att_status": "AUTHORIZED",
        },
        "page": {"url": "https://shop.example/checkout", "referrer": "https://shop.example/cart"},
        "properties": {
            "contents": [
                {
                    "content_id": "sku-1",
                    "content_name": "Socks",
                    "content_category": "Apparel",
                    "price": 8.5,
                    "quantity": 2,
                    "brand": "Acme",
                    "content_type": "product",
                }
            ],
            "content_type": "product",
            "currency": "USD",
            "value": 17,
            "query": "socks",
            "description": "order",
            "order_id": "1234",
            "content_ids": ["sku-1"],
            "num_items": 2,
            "search_string": "socks",
            "shop_id": "shop-1",
            "delivery_category": "home_delivery",
            "predicted_ltv": 120.5,
        },
        "limited_data_use": False,
        "lead": {"lead_id": "7231234567890", "lead_event_source": "HubSpot"},
        "app": {"app_id": "343200656", "app_name": "Shop", "app_version": "1.2.3"},
        "ad": {
            "callback": "E.C.P.abc",
            "campaign_id": "c-1",
            "ad_id": "a-1",
            "creative_id": "cr-1",
            "is_retargeting": False,
            "attributed": True,
            "attribute_type": "click",
            "attribute_provider": "provider",
        },
    }


def full_body(events: int = 1) -> dict[str, Any]:
    """A request body using every top-level field, with ``events`` valid events."""
    return {
        "event_source": "web",
        "event_source_id": "PIXEL123",
        "test_event_code": "TEST123",
        "partner_name": "mParticle",
        "data": [full_event(i) for i in range(events)],
    }


def post(
    sandbox: TikTokSandbox,
    body: object,
    *,
    token: str | None = TOKEN,
    session: requests.Session | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    all_headers = {"Content-Type": "application/json"}
    if token is not None:
        all_headers["Access-Token"] = token
    all_headers.update(headers or {})
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    client: Any = session or requests
    response: requests.Response = client.post(sandbox.track_url, data=data, headers=all_headers, timeout=5)
    return response


def set_path(path: str, value: object) -> Mutation:
    """A mutation setting ``a.b.0.c`` in the body (creating nothing: the path must exist up to the key)."""

    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def delete_path(path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


# -- success --------------------------------------------------------------------------------------


def test_valid_request_is_accepted_and_recorded(sandbox: TikTokSandbox) -> None:
    body = full_body(events=2)
    response = post(sandbox, body)

    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == CODE_OK
    assert answer["message"] == "OK"
    assert isinstance(answer["request_id"], str) and answer["request_id"]
    assert answer["data"] == {}
    assert response.headers["Content-Length"] == str(len(response.content))

    (record,) = sandbox.requests()
    assert record.path == TRACK_PATH
    assert record.method == "POST"
    assert record.body == body
    assert record.raw_size == len(json.dumps(body).encode())
    assert record.http_status == 200
    assert record.response == answer
    assert record.code == CODE_OK
    assert record.fault is None
    assert record.headers["Access-Token"] == "<valid>"
    assert abs(record.received_at - time.time()) < 5
    assert sandbox.accepted_events() == body["data"]


def test_minimal_request_is_accepted(sandbox: TikTokSandbox) -> None:
    body = {
        "event_source": "web",
        "event_source_id": "PIXEL123",
        "data": [{"event": "ViewContent", "event_time": EVENT_TIME}],
    }
    assert post(sandbox, body).json()["code"] == CODE_OK


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(set_path("data.0.user.external_id", HASH), id="external-id-string"),
        pytest.param(set_path("data.0.user.email", HASH), id="email-string"),
        pytest.param(set_path("data.0.user.phone", [HASH, OTHER_HASH]), id="phone-list"),
        pytest.param(set_path("data.0.user", {"first_name": HASH, "city": "paris"}), id="names-only"),
        pytest.param(set_path("data.0.properties.contents.0.content_type", "product_group"), id="group"),
        pytest.param(set_path("data.0.properties", {"contents": [{"price": 1}]}), id="content-price-only"),
        pytest.param(set_path("data.0.lead", {"lead_id": "1"}), id="lead-id-only"),
        pytest.param(set_path("data.0.limited_data_use", True), id="limited-data-use"),
        pytest.param(set_path("data.0.properties.value", 0), id="value-zero"),
        pytest.param(delete_path("data.0.event_id"), id="no-event-id"),
    ],
)
def test_documented_variants_are_accepted(sandbox: TikTokSandbox, mutation: Mutation) -> None:
    body = full_body()
    mutation(body)
    answer = post(sandbox, body).json()
    assert (answer["code"], answer["message"]) == (CODE_OK, "OK")


def test_content_type_with_charset_and_lowercase_token_header_are_accepted(sandbox: TikTokSandbox) -> None:
    response = post(
        sandbox,
        full_body(),
        token=None,
        headers={"access-token": TOKEN, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.json()["code"] == CODE_OK
    assert sandbox.requests()[0].headers["Access-Token"] == "<valid>"


def test_chunked_body_is_accepted(sandbox: TikTokSandbox) -> None:
    payload = json.dumps(full_body()).encode()
    chunks = iter([payload[:10], payload[10:]])  # a generator body makes requests send it chunked
    response = requests.post(
        sandbox.track_url,
        data=chunks,
        headers={"Access-Token": TOKEN, "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.json()["code"] == CODE_OK
    assert sandbox.requests()[0].raw_size == len(payload)


def test_exactly_1000_events_are_accepted(sandbox: TikTokSandbox) -> None:
    body = full_body()
    body["data"] = [
        {"event": "ViewContent", "event_time": EVENT_TIME, "event_id": str(i)} for i in range(1000)
    ]
    assert post(sandbox, body).json()["code"] == CODE_OK
    assert len(sandbox.accepted_events()) == 1000


# -- validation -----------------------------------------------------------------------------------

INVALID_BODIES: list[tuple[str, Mutation, str]] = [
    # top level
    ("unknown-top-level-key", set_path("pixel_code", "X"), "pixel_code: Unknown field"),
    ("event-source-not-web", set_path("event_source", "app"), "event_source: Must be one of: web"),
    ("event-source-missing", delete_path("event_source"), "event_source: Missing data for required field"),
    ("event-source-id-empty", set_path("event_source_id", ""), "event_source_id: Field may not be empty"),
    ("event-source-id-int", set_path("event_source_id", 123), "event_source_id: Not a valid string"),
    ("event-source-id-missing", delete_path("event_source_id"), "event_source_id: Missing data"),
    ("test-event-code-int", set_path("test_event_code", 5), "test_event_code: Not a valid string"),
    ("partner-name-null", set_path("partner_name", None), "partner_name: Field may not be null"),
    ("data-missing", delete_path("data"), "data: Missing data for required field"),
    ("data-not-list", set_path("data", {"event": "x"}), "data: Not a valid list"),
    ("data-empty", set_path("data", []), "data: must contain between 1 and 1000 events"),
    # event
    ("event-not-object", set_path("data.0", "AddToCart"), "data.0: Not a valid mapping type"),
    ("event-null", set_path("data.0", None), "data.0: Field may not be null"),
    ("event-unknown-key", set_path("data.0.timestamp", "2024-01-01"), "data.0.timestamp: Unknown field"),
    ("event-test-code-inside", set_path("data.0.test_event_code", "T"), "data.0.test_event_code: Unknown"),
    ("event-name-missing", delete_path("data.0.event"), "data.0.event: Missing data for required field"),
    ("event-name-empty", set_path("data.0.event", ""), "data.0.event: Field may not be empty"),
    ("event-name-int", set_path("data.0.event", 1), "data.0.event: Not a valid string"),
    ("event-time-missing", delete_path("data.0.event_time"), "data.0.event_time: Missing data"),
    (
        "event-time-string",
        set_path("data.0.event_time", "1700000000"),
        "data.0.event_time: Not a valid integer",
    ),
    ("event-time-bool", set_path("data.0.event_time", True), "data.0.event_time: Not a valid integer"),
    (
        "event-time-float",
        set_path("data.0.event_time", 1700000000.5),
        "data.0.event_time: Not a valid integer",
    ),
    ("event-time-millis", set_path("data.0.event_time", 1_700_000_000_000), "milliseconds"),
    (
        "event-time-too-small",
        set_path("data.0.event_time", 999_999_999),
        "data.0.event_time: Not a valid Unix",
    ),
    ("event-time-null", set_path("data.0.event_time", None), "data.0.event_time: Field may not be null"),
    ("event-id-int", set_path("data.0.event_id", 12345), "data.0.event_id: Not a valid string"),
    (
        "limited-data-use-str",
        set_path("data.0.limited_data_use", "no"),
        "data.0.limited_data_use: Not a valid",
    ),
    # user
    ("user-not-object", set_path("data.0.user", [HASH]), "data.0.user: Not a valid mapping type"),
    (
        "user-unknown-key",
        set_path("data.0.user.phone_number", HASH),
        "data.0.user.phone_number: Unknown field",
    ),
    (
        "user-email-raw",
        set_path("data.0.user.email", "alice@example.com"),
        "data.0.user.email: not a SHA-256",
    ),
    ("user-email-raw-in-list", set_path("data.0.user.email", ["bob@x.io"]), "data.0.user.email.0: not a SHA"),
    ("user-email-empty-list", set_path("data.0.user.email", []), "data.0.user.email: Shorter than minimum"),
    (
        "user-phone-raw",
        set_path("data.0.user.phone", "+12133734253"),
        "data.0.user.phone: not a SHA-256 hash",
    ),
    (
        "user-phone-uppercase",
        set_path("data.0.user.phone", "A" * 64),
        "data.0.user.phone: not a SHA-256 hash",
    ),
    ("user-phone-short", set_path("data.0.user.phone", "a" * 63), "data.0.user.phone: not a SHA-256 hash"),
    (
        "user-external-id-raw",
        set_path("data.0.user.external_id.1", "user_123"),
        "user.external_id.1: not a SHA",
    ),
    (
        "user-external-id-int",
        set_path("data.0.user.external_id", 7),
        "data.0.user.external_id: Not a valid string",
    ),
    ("user-ip-int", set_path("data.0.user.ip", 123), "data.0.user.ip: Not a valid string"),
    (
        "user-agent-null",
        set_path("data.0.user.user_agent", None),
        "data.0.user.user_agent: Field may not be null",
    ),
    ("user-ttclid-int", set_path("data.0.user.ttclid", 1), "data.0.user.ttclid: Not a valid string"),
    # advanced matching: names and zip code hashed, city/state/country plain strings
    ("first-name-raw", set_path("data.0.user.first_name", "Jane"), "data.0.user.first_name: not a SHA-256"),
    ("last-name-uppercase", set_path("data.0.user.last_name", "A" * 64), "user.last_name: not a SHA-256"),
    ("last-name-list", set_path("data.0.user.last_name", [HASH]), "user.last_name: Not a valid string"),
    ("zip-code-raw", set_path("data.0.user.zip_code", "94103"), "data.0.user.zip_code: not a SHA-256"),
    ("zip-code-int", set_path("data.0.user.zip_code", 94103), "data.0.user.zip_code: Not a valid string"),
    ("city-int", set_path("data.0.user.city", 1), "data.0.user.city: Not a valid string"),
    ("state-list", set_path("data.0.user.state", ["ca"]), "data.0.user.state: Not a valid string"),
    ("country-null", set_path("data.0.user.country", None), "data.0.user.country: Field may not be null"),
    ("att-status-other", set_path("data.0.user.att_status", "YES"), "data.0.user.att_status: Must be one of"),
    # lead, app, ad
    ("lead-not-object", set_path("data.0.lead", "7231"), "data.0.lead: Not a valid mapping type"),
    ("lead-id-int", set_path("data.0.lead.lead_id", 7231), "data.0.lead.lead_id: Not a valid string"),
    ("lead-unknown-key", set_path("data.0.lead.source", "x"), "data.0.lead.source: Unknown field"),
    ("app-id-int", set_path("data.0.app.app_id", 343200656), "data.0.app.app_id: Not a valid string"),
    ("app-unknown-key", set_path("data.0.app.bundle", "x"), "data.0.app.bundle: Unknown field"),
    ("ad-retargeting-str", set_path("data.0.ad.is_retargeting", "no"), "data.0.ad.is_retargeting: Not a"),
    ("ad-campaign-int", set_path("data.0.ad.campaign_id", 1), "data.0.ad.campaign_id: Not a valid string"),
    # page
    ("page-not-object", set_path("data.0.page", "https://x"), "data.0.page: Not a valid mapping type"),
    ("page-url-no-scheme", set_path("data.0.page.url", "shop.example/x"), "data.0.page.url: Not a valid URL"),
    ("page-url-ftp", set_path("data.0.page.url", "ftp://shop.example/"), "data.0.page.url: Not a valid URL"),
    ("page-url-int", set_path("data.0.page.url", 5), "data.0.page.url: Not a valid string"),
    ("page-referrer-int", set_path("data.0.page.referrer", 5), "data.0.page.referrer: Not a valid string"),
    ("page-unknown-key", set_path("data.0.page.title", "t"), "data.0.page.title: Unknown field"),
    # properties
    ("properties-not-object", set_path("data.0.properties", []), "data.0.properties: Not a valid mapping"),
    (
        "properties-unknown-key",
        set_path("data.0.properties.price", 1),
        "data.0.properties.price: Unknown field",
    ),
    (
        "contents-not-list",
        set_path("data.0.properties.contents", {}),
        "properties.contents: Not a valid list",
    ),
    ("content-null", set_path("data.0.properties.contents.0", None), "contents.0: Field may not be null"),
    ("content-not-object", set_path("data.0.properties.contents.0", "x"), "contents.0: Not a valid mapping"),
    (
        "content-unknown-key",
        set_path("data.0.properties.contents.0.sku", "1"),
        "contents.0.sku: Unknown field",
    ),
    (
        "content-id-int",
        set_path("data.0.properties.contents.0.content_id", 1077218),
        "data.0.properties.contents.0.content_id: Not a valid string",
    ),
    (
        "content-name-int",
        set_path("data.0.properties.contents.0.content_name", 1),
        "content_name: Not a valid",
    ),
    (
        "content-category-int",
        set_path("data.0.properties.contents.0.content_category", 1),
        "content_category: Not",
    ),
    ("content-brand-int", set_path("data.0.properties.contents.0.brand", 1), "contents.0.brand: Not a valid"),
    (
        "price-string",
        set_path("data.0.properties.contents.0.price", "8.50"),
        "contents.0.price: Not a valid number",
    ),
    (
        "price-bool",
        set_path("data.0.properties.contents.0.price", True),
        "contents.0.price: Not a valid number",
    ),
    (
        "price-null",
        set_path("data.0.properties.contents.0.price", None),
        "contents.0.price: Field may not be null",
    ),
    (
        "quantity-float",
        set_path("data.0.properties.contents.0.quantity", 1.5),
        "quantity: Not a valid integer",
    ),
    (
        "quantity-bool",
        set_path("data.0.properties.contents.0.quantity", True),
        "quantity: Not a valid integer",
    ),
    ("content-type-other", set_path("data.0.properties.content_type", "sku"), "content_type: Must be one of"),
    (
        "item-content-type-other",
        set_path("data.0.properties.contents.0.content_type", "sku"),
        "contents.0.content_type: Must be one of",
    ),
    ("predicted-ltv-str", set_path("data.0.properties.predicted_ltv", "9"), "predicted_ltv: Not a valid"),
    (
        "delivery-category-int",
        set_path("data.0.properties.delivery_category", 1),
        "delivery_category: Not a valid string",
    ),
    (
        "currency-unknown",
        set_path("data.0.properties.currency", "XYZ"),
        "properties.currency: Not a supported",
    ),
    (
        "currency-lowercase",
        set_path("data.0.properties.currency", "usd"),
        "properties.currency: Not a supported",
    ),
    ("value-string", set_path("data.0.properties.value", "16.00"), "properties.value: Not a valid number"),
    ("value-bool", set_path("data.0.properties.value", False), "properties.value: Not a valid number"),
    ("value-null", set_path("data.0.properties.value", None), "properties.value: Field may not be null"),
    ("order-id-int", set_path("data.0.properties.order_id", 1234), "properties.order_id: Not a valid string"),
    ("query-int", set_path("data.0.properties.query", 1), "properties.query: Not a valid string"),
    ("description-list", set_path("data.0.properties.description", ["d"]), "description: Not a valid string"),
    ("content-ids-int", set_path("data.0.properties.content_ids.0", 1), "content_ids.0: Not a valid string"),
    ("num-items-str", set_path("data.0.properties.num_items", "2"), "num_items: Not a valid integer"),
    # the offending event is named by its index
    (
        "fourth-event-content-id",
        set_path("data.3.properties.contents.0.content_id", 42),
        "data.3.properties.contents.0.content_id: Not a valid string",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [pytest.param(mutation, expected, id=name) for name, mutation, expected in INVALID_BODIES],
)
def test_invalid_body_is_rejected_with_40002_naming_the_field(
    sandbox: TikTokSandbox, mutation: Mutation, expected: str
) -> None:
    body = full_body(events=4)
    mutation(body)
    response = post(sandbox, body)

    assert response.status_code == 200  # business errors come with HTTP 200
    answer = response.json()
    assert answer["code"] == CODE_INVALID_PARAMETER
    assert expected in answer["message"]
    (record,) = sandbox.requests()
    assert record.code == CODE_INVALID_PARAMETER
    assert record.body == body
    assert sandbox.accepted_events() == []


def test_error_messages_never_echo_identity_values(sandbox: TikTokSandbox) -> None:
    body = full_body()
    body["data"][0]["user"]["email"] = "alice@example.com"
    message = post(sandbox, body).json()["message"]
    assert "alice" not in message
    assert message == "data.0.user.email: not a SHA-256 hash (64 lowercase hex characters)"


def test_more_than_1000_events_reject_the_whole_request(sandbox: TikTokSandbox) -> None:
    body = full_body()
    body["data"] = [
        {"event": "ViewContent", "event_time": EVENT_TIME, "event_id": str(i)} for i in range(1001)
    ]
    answer = post(sandbox, body).json()

    assert answer["code"] == CODE_INVALID_PARAMETER
    assert "exceeds" in answer["message"] and "1000" in answer["message"]
    assert sandbox.accepted_events() == []


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        pytest.param(b"{not json", "application/json", "not valid JSON", id="malformed-json"),
        pytest.param(b"", "application/json", "not valid JSON", id="empty-body"),
        pytest.param(b'{"data": NaN}', "application/json", "not valid JSON", id="nan-constant"),
        pytest.param(b"\xff\xfe", "application/json", "not valid JSON", id="not-utf8"),
        pytest.param(b"[]", "application/json", "must be a JSON object", id="json-array"),
        pytest.param(None, "text/plain", "Content-Type must be application/json", id="text-plain"),
        pytest.param(None, "application/x-www-form-urlencoded", "Content-Type must be", id="form"),
    ],
)
def test_request_level_errors_get_40002(
    sandbox: TikTokSandbox, raw: bytes | None, content_type: str, expected: str
) -> None:
    payload = raw if raw is not None else json.dumps(full_body()).encode()
    response = post(sandbox, payload, headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert response.json()["code"] == CODE_INVALID_PARAMETER
    assert expected in response.json()["message"]
    assert sandbox.requests()[0].code == CODE_INVALID_PARAMETER


# -- access token ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "recorded"),
    [
        pytest.param(None, None, id="missing"),
        pytest.param("wrong-token", "<invalid>", id="wrong"),
        pytest.param(f"Bearer {TOKEN}", "<invalid>", id="bearer-prefix"),
        pytest.param("", "<invalid>", id="empty"),
    ],
)
def test_bad_access_token_gets_40105(sandbox: TikTokSandbox, token: str | None, recorded: str | None) -> None:
    body = full_body()
    body["data"][0]["event_time"] = "not checked before the token"
    response = post(sandbox, body, token=token)

    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == CODE_TOKEN_INVALID
    assert answer["message"] == "Access token is incorrect or has been revoked."
    (record,) = sandbox.requests()
    assert record.headers.get("Access-Token") == recorded
    assert sandbox.accepted_events() == []


def test_token_rotation(sandbox: TikTokSandbox) -> None:
    sandbox.set_access_tokens(["new-token"])
    assert post(sandbox, full_body()).json()["code"] == CODE_TOKEN_INVALID
    assert post(sandbox, full_body(), token="new-token").json()["code"] == CODE_OK
    sandbox.set_access_tokens(["new-token", TOKEN])  # both valid during a rotation
    assert post(sandbox, full_body()).json()["code"] == CODE_OK


def test_set_access_tokens_rejects_a_bare_string_and_empty_tokens(sandbox: TikTokSandbox) -> None:
    with pytest.raises(TypeError):
        sandbox.set_access_tokens("abc")
    with pytest.raises(ValueError, match="non-empty"):
        sandbox.set_access_tokens([""])


def test_token_never_appears_in_recorded_requests(sandbox: TikTokSandbox) -> None:
    secret = "s3cr3t-access-token-value"
    sandbox.set_access_tokens([secret])
    post(sandbox, full_body(), token=secret)
    post(sandbox, full_body(), token=secret + "x")
    post(sandbox, full_body(), token=f"Bearer {secret}")
    post(sandbox, full_body(), token=secret, headers={"Authorization": f"Token {secret}", "Cookie": secret})
    sandbox.fail_next({"kind": "reset"})
    with pytest.raises(requests.ConnectionError):
        post(sandbox, full_body(), token=secret)

    records = sandbox.requests()
    assert len(records) == 5
    dumped = json.dumps([record.to_dict() for record in records]) + repr(records) + repr(sandbox)
    assert secret not in dumped
    assert records[3].headers["Authorization"] == "<redacted>"
    over_http = requests.get(sandbox.base_url + "/_sandbox/requests", timeout=5).text
    assert secret not in over_http


# -- faults ---------------------------------------------------------------------------------------


def test_queued_faults_apply_in_order_one_per_request(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next(
        {
            "kind": "tiktok_code",
            "code": CODE_RATE_LIMITED,
            "message": "Too many requests. Please retry in some time.",
        },
        {"kind": "http_status", "status": 503},
        {"kind": "delay", "seconds": 0.3},
        {"kind": "reset"},
    )
    first = post(sandbox, full_body())
    assert first.status_code == 200
    assert first.json()["code"] == CODE_RATE_LIMITED
    assert first.json()["message"] == "Too many requests. Please retry in some time."

    second = post(sandbox, full_body())
    assert second.status_code == 503
    assert second.headers["Content-Type"] == "text/html"
    assert "503 Service Temporarily Unavailable" in second.text

    started = time.monotonic()
    third = post(sandbox, full_body())
    assert time.monotonic() - started >= 0.3
    assert third.json()["code"] == CODE_OK

    with pytest.raises(requests.ConnectionError):
        post(sandbox, full_body())

    assert post(sandbox, full_body()).json()["code"] == CODE_OK  # the queue is empty again

    records = sandbox.requests()
    assert [record.http_status for record in records] == [200, 503, 200, None, 200]
    assert [record.code for record in records] == [CODE_RATE_LIMITED, None, CODE_OK, None, CODE_OK]
    assert [record.fault["kind"] if record.fault else None for record in records] == [
        "tiktok_code",
        "http_status",
        "delay",
        "reset",
        None,
    ]
    assert records[3].body == full_body()  # a reset request still shows what was sent
    assert len(sandbox.accepted_events()) == 2


def test_reset_fault_is_a_tcp_reset(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next({"kind": "reset"})
    with pytest.raises(requests.ConnectionError) as caught:
        post(sandbox, full_body())
    assert "reset" in str(caught.value).lower()


def test_tiktok_code_fault_without_message_uses_tiktok_wording(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next({"kind": "tiktok_code", "code": 50002})
    answer = post(sandbox, full_body()).json()
    assert answer["code"] == 50002
    assert answer["message"].startswith("Error processing request on TikTok side")


def test_http_status_fault_with_json_body_and_retry_after(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next({"kind": "http_status", "status": 429, "retry_after": 2})
    response = post(sandbox, full_body())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {"error": "http_error", "message": "Too Many Requests"}
    assert sandbox.requests()[0].response == response.json()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"kind": "explode"}, id="unknown-kind"),
        pytest.param({"code": 40100}, id="no-kind"),
        pytest.param({"kind": "tiktok_code"}, id="code-missing"),
        pytest.param({"kind": "tiktok_code", "code": "40100"}, id="code-string"),
        pytest.param({"kind": "http_status", "status": 200}, id="status-not-error"),
        pytest.param({"kind": "delay", "seconds": -1}, id="negative-delay"),
        pytest.param({"kind": "reset", "seconds": 1}, id="unknown-key"),
        pytest.param({"kind": "drip", "seconds_per_byte": 0}, id="drip-zero"),
        pytest.param({"kind": "drip", "seconds_per_byte": -0.1}, id="drip-negative"),
        pytest.param({"kind": "drip", "seconds_per_byte": "1"}, id="drip-string"),
        pytest.param({"kind": "drip", "seconds_per_byte": 601}, id="drip-too-slow"),
        pytest.param({"kind": "drip", "body_only": "yes"}, id="drip-body-only-string"),
        pytest.param({"kind": "drip", "seconds": 1}, id="drip-unknown-key"),
    ],
)
def test_malformed_faults_are_refused(sandbox: TikTokSandbox, fault: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sandbox.fail_next({"kind": "reset"}, fault)
    assert post(sandbox, full_body()).json()["code"] == CODE_OK  # nothing was queued


def test_random_faults(sandbox: TikTokSandbox) -> None:
    sandbox.set_random_faults(1.0, [{"kind": "tiktok_code", "code": CODE_RATE_LIMITED}])
    assert {post(sandbox, full_body()).json()["code"] for _ in range(3)} == {CODE_RATE_LIMITED}

    sandbox.set_random_faults(0, [])
    assert post(sandbox, full_body()).json()["code"] == CODE_OK

    def run(seed: int) -> list[int]:
        sandbox.set_random_faults(0.5, [{"kind": "tiktok_code", "code": 50000}], seed=seed)
        return [post(sandbox, full_body()).json()["code"] for _ in range(12)]

    first, second = run(7), run(7)
    assert first == second
    assert set(first) == {CODE_OK, 50000}

    with pytest.raises(ValueError):
        sandbox.set_random_faults(1.5, [{"kind": "reset"}])
    with pytest.raises(ValueError):
        sandbox.set_random_faults(0.5, [])


def test_queued_faults_take_precedence_over_random_ones(sandbox: TikTokSandbox) -> None:
    sandbox.set_random_faults(1.0, [{"kind": "tiktok_code", "code": 50000}])
    sandbox.fail_next({"kind": "tiktok_code", "code": 40001})
    assert post(sandbox, full_body()).json()["code"] == 40001
    assert post(sandbox, full_body()).json()["code"] == 50000


def test_requests_are_listed_in_arrival_order(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next({"kind": "delay", "seconds": 0.4})
    slow_body = full_body()
    slow_body["partner_name"] = "slow"
    slow = threading.Thread(target=post, args=(sandbox, slow_body))
    slow.start()
    time.sleep(0.15)
    post(sandbox, full_body())  # arrives second, answered first
    slow.join()
    assert [record.body["partner_name"] for record in sandbox.requests()] == ["slow", "mParticle"]


# -- marked events: rejected requests and partial success -----------------------------------------


def body_of(*indexes: int) -> dict[str, Any]:
    """A valid body whose events are ``full_event(i)`` (event id ``evt-<i>``) for the given indexes."""
    body = full_body()
    body["data"] = [full_event(index) for index in indexes]
    return body


def accepted_ids(sandbox: TikTokSandbox) -> list[str]:
    return [event["event_id"] for event in sandbox.accepted_events()]


def test_a_rejected_event_fails_its_whole_request_so_a_client_can_bisect(sandbox: TikTokSandbox) -> None:
    # Given one event marked invalid among four
    sandbox.set_rejected_events(["evt-2"])
    # When the four go in one request, the whole request is refused, naming the event's position
    response = post(sandbox, body_of(0, 1, 2, 3))
    assert response.status_code == 200
    answer = response.json()
    assert (answer["code"], answer["message"]) == (CODE_INVALID_PARAMETER, "data.2.event_id: Invalid event")
    assert answer["data"] == {}
    # and a client splitting in halves finds it alone
    assert post(sandbox, body_of(0, 1)).json()["code"] == CODE_OK
    halves = post(sandbox, body_of(2, 3)).json()
    assert (halves["code"], halves["message"]) == (CODE_INVALID_PARAMETER, "data.0.event_id: Invalid event")
    assert post(sandbox, body_of(2)).json()["code"] == CODE_INVALID_PARAMETER
    assert post(sandbox, body_of(3)).json()["code"] == CODE_OK
    # Then every request was recorded, and only the unmarked events were accepted
    assert [record.code for record in sandbox.requests()] == [40002, 0, 40002, 40002, 0]
    assert [record.event_ids for record in sandbox.requests_with_event("evt-2")] == [
        ["evt-0", "evt-1", "evt-2", "evt-3"],
        ["evt-2", "evt-3"],
        ["evt-2"],
    ]
    assert sorted(accepted_ids(sandbox)) == ["evt-0", "evt-1", "evt-3"]
    assert sandbox.stats()["requests"] == 5


def test_several_rejected_events_name_the_first_and_tiktoks_own_checks_come_first(
    sandbox: TikTokSandbox,
) -> None:
    sandbox.set_rejected_events(["evt-3", "evt-1"])
    assert post(sandbox, body_of(0, 1, 2, 3)).json()["message"] == "data.1.event_id: Invalid event"
    # A bad token or an invalid field is answered as TikTok would, before any mark is looked at
    assert post(sandbox, body_of(1), token="wrong").json()["code"] == CODE_TOKEN_INVALID
    invalid = body_of(1, 2)
    invalid["data"][1]["event_time"] = "soon"
    assert post(sandbox, invalid).json()["message"] == "data.1.event_time: Not a valid integer"
    # Queued faults come first too
    sandbox.fail_next({"kind": "tiktok_code", "code": 50000})
    assert post(sandbox, body_of(1)).json()["code"] == 50000
    # An empty set turns the rejection off
    sandbox.set_rejected_events([])
    assert post(sandbox, body_of(1)).json()["code"] == CODE_OK


def test_partial_failure_answers_20001_naming_the_failed_events(sandbox: TikTokSandbox) -> None:
    sandbox.set_partial_failures(["evt-1", "evt-3"])

    response = post(sandbox, body_of(0, 1, 2, 3))

    assert response.status_code == 200
    answer = response.json()
    assert (answer["code"], answer["message"]) == (CODE_PARTIAL_SUCCESS, "Partial success")
    assert isinstance(answer["request_id"], str) and answer["request_id"]
    assert answer["data"] == {
        "failed_events": [
            {"index": 1, "event_id": "evt-1", "code": 40002, "message": "Invalid parameter."},
            {"index": 3, "event_id": "evt-3", "code": 40002, "message": "Invalid parameter."},
        ]
    }
    (record,) = sandbox.requests()
    assert record.failed_indexes == [1, 3]
    assert accepted_ids(sandbox) == ["evt-0", "evt-2"]
    # A request without a marked event is a plain success
    assert post(sandbox, body_of(4)).json() | {"request_id": ""} == {
        "code": CODE_OK,
        "message": "OK",
        "request_id": "",
        "data": {},
    }
    stats = sandbox.stats()
    assert (stats["accepted_requests"], stats["partial_success_requests"]) == (1, 1)
    assert stats["accepted_events"] == 3


def test_partial_failure_message_precedence_and_reset(sandbox: TikTokSandbox) -> None:
    sandbox.set_partial_failures(["evt-0"], message="data.0.user: TIKTOK")
    sandbox.set_rejected_events(["evt-1"])
    # A rejection wins over a partial failure
    assert post(sandbox, body_of(0, 1)).json()["code"] == CODE_INVALID_PARAMETER
    sandbox.set_rejected_events([])
    [failed] = post(sandbox, body_of(0, 1)).json()["data"]["failed_events"]
    assert failed == {"index": 0, "event_id": "evt-0", "code": 40002, "message": "data.0.user: TIKTOK"}
    # A 20001 queued as a fault names no event: all of its events count as accepted
    sandbox.fail_next({"kind": "tiktok_code", "code": CODE_PARTIAL_SUCCESS})
    assert post(sandbox, body_of(5, 6)).json()["code"] == CODE_PARTIAL_SUCCESS
    assert accepted_ids(sandbox) == ["evt-1", "evt-5", "evt-6"]
    # reset() forgets the marks and the message
    sandbox.reset()
    assert post(sandbox, body_of(0, 1)).json()["code"] == CODE_OK
    sandbox.set_partial_failures(["evt-0"])
    assert post(sandbox, body_of(0)).json()["data"]["failed_events"][0]["message"] == "Invalid parameter."


@pytest.mark.parametrize("method", ["set_rejected_events", "set_partial_failures"])
def test_marked_event_ids_must_be_a_list_of_strings(sandbox: TikTokSandbox, method: str) -> None:
    mark = getattr(sandbox, method)
    with pytest.raises(TypeError):
        mark("evt-1")
    with pytest.raises(ValueError, match="non-empty string"):
        mark(["evt-1", ""])
    with pytest.raises(ValueError, match="non-empty string"):
        mark([1])
    assert post(sandbox, body_of(1)).json()["code"] == CODE_OK  # nothing was marked


# -- dripped answers ----------------------------------------------------------------------------------


def raw_post(sandbox: TikTokSandbox, body: object) -> socket.socket:
    """Send a track request on a plain socket, to read its answer byte by byte."""
    payload = json.dumps(body).encode()
    head = (
        f"POST {TRACK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccess-Token: {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    sock = socket.create_connection(("127.0.0.1", sandbox.port), timeout=10)
    sock.sendall(head.encode() + payload)
    return sock


def read_until(sock: socket.socket, done: Callable[[bytes], bool]) -> bytes:
    received = b""
    while not done(received):
        chunk = sock.recv(4096)
        assert chunk, "the connection closed early"
        received += chunk
    return received


def read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_drip_writes_the_answer_a_byte_at_a_time_until_interrupted(sandbox: TikTokSandbox) -> None:
    # Given an answer dripped at one byte per 0.2 s (the status line and headers alone take ~25 s)
    sandbox.fail_next({"kind": "drip", "seconds_per_byte": 0.2})
    with raw_post(sandbox, full_body()) as sock:
        # When the first bytes have come
        received = read_until(sock, lambda data: len(data) >= 3)
        # Then the request was judged and recorded before its answer started
        (record,) = sandbox.requests()
        assert (record.code, record.fault) == (
            CODE_OK,
            {"kind": "drip", "seconds_per_byte": 0.2, "body_only": False},
        )
        # and a reset cuts the drip short: the connection closes with the answer unfinished
        sandbox.reset()
        received += read_to_end(sock)
    assert received.startswith(b"HTT")
    assert b"\r\n\r\n" not in received


def test_drip_of_the_body_only_sends_the_headers_at_once(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next({"kind": "drip", "seconds_per_byte": 0.2, "body_only": True})
    with raw_post(sandbox, full_body()) as sock:
        head = read_until(sock, lambda data: b"\r\n\r\n" in data)
        headers, _, body = head.partition(b"\r\n\r\n")
        assert headers.startswith(b"HTTP/1.1 200 OK\r\n")
        length = int(headers.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        body += read_until(sock, lambda data: len(body + data) >= 1)
        sandbox.reset()
        body += read_to_end(sock)
    assert 1 <= len(body) < length
    assert b'{"code": 0'.startswith(body[:10])


def test_a_dripped_answer_completes_and_keeps_the_connection(sandbox: TikTokSandbox) -> None:
    sandbox.set_partial_failures(["evt-0"])
    sandbox.fail_next({"kind": "drip", "seconds_per_byte": 0.003})
    with requests.Session() as session:
        dripped = post(sandbox, body_of(0, 1), session=session)
        assert dripped.status_code == 200
        assert dripped.headers["Content-Length"] == str(len(dripped.content))
        assert dripped.json()["code"] == CODE_PARTIAL_SUCCESS  # the answer is the one TikTok would give
        assert post(sandbox, body_of(2), session=session).json()["code"] == CODE_OK
    assert sandbox.connections_opened == 1
    assert [record.fault["kind"] if record.fault else None for record in sandbox.requests()] == ["drip", None]


def test_stop_ends_a_drip() -> None:
    sandbox = TikTokSandbox().start()
    try:
        sandbox.fail_next({"kind": "drip", "seconds_per_byte": 0.2})
        with raw_post(sandbox, full_body()) as sock:
            received = read_until(sock, lambda data: len(data) >= 1)
            sandbox.stop()
            received += read_to_end(sock)
    finally:
        sandbox.stop()
    assert received.startswith(b"H")
    assert b"\r\n\r\n" not in received


# -- connections ----------------------------------------------------------------------------------


def test_session_reuses_one_connection(sandbox: TikTokSandbox) -> None:
    with requests.Session() as session:
        codes = [post(sandbox, full_body(), session=session).json()["code"] for _ in range(20)]
    assert codes == [CODE_OK] * 20
    assert sandbox.connections_opened == 1


def test_connection_stays_usable_after_errors(sandbox: TikTokSandbox) -> None:
    sandbox.fail_next({"kind": "http_status", "status": 502}, {"kind": "tiktok_code", "code": 40100})
    with requests.Session() as session:
        assert post(sandbox, full_body(), session=session).status_code == 502
        assert post(sandbox, full_body(), session=session).json()["code"] == CODE_RATE_LIMITED
        assert post(sandbox, b"{bad", session=session).json()["code"] == CODE_INVALID_PARAMETER
        assert post(sandbox, full_body(), session=session, token="x").json()["code"] == CODE_TOKEN_INVALID
        assert post(sandbox, full_body(), session=session).json()["code"] == CODE_OK
    assert sandbox.connections_opened == 1


def test_wrong_path_and_method(sandbox: TikTokSandbox) -> None:
    response = requests.post(
        sandbox.base_url + "/open_api/v1.3/pixel/track/",
        json=full_body(),
        headers={"Access-Token": TOKEN},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"

    response = requests.get(sandbox.track_url, headers={"Access-Token": TOKEN}, timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert [(record.path, record.http_status) for record in sandbox.requests()] == [
        ("/open_api/v1.3/pixel/track/", 404),
        (TRACK_PATH, 405),
    ]


def test_lifecycle() -> None:
    sandbox = TikTokSandbox()
    with pytest.raises(RuntimeError):
        _ = sandbox.base_url
    assert sandbox.start() is sandbox
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert sandbox.track_url == sandbox.base_url + TRACK_PATH
    with requests.Session() as session:  # an idle keep-alive connection must not block stop()
        assert post(sandbox, full_body(), session=session).json()["code"] == CODE_OK
        started = time.monotonic()
        sandbox.stop()
        sandbox.stop()
        assert time.monotonic() - started < 2
    with pytest.raises(RuntimeError):
        _ = sandbox.track_url


# -- control API ----------------------------------------------------------------------------------


def test_control_api_over_http(sandbox: TikTokSandbox) -> None:
    control = sandbox.base_url + "/_sandbox"
    with requests.Session() as admin:
        queued = admin.post(
            f"{control}/faults",
            json=[{"kind": "tiktok_code", "code": 40100}, {"kind": "http_status", "status": 503}],
            timeout=5,
        )
        assert queued.json() == {"queued": 2}
        assert post(sandbox, full_body()).json()["code"] == CODE_RATE_LIMITED
        assert post(sandbox, full_body()).status_code == 503
        assert post(sandbox, full_body()).json()["code"] == CODE_OK

        listed = admin.get(f"{control}/requests", timeout=5).json()
        assert [item["http_status"] for item in listed] == [200, 503, 200]
        assert listed[0]["response"]["code"] == CODE_RATE_LIMITED
        assert listed[2]["body"] == full_body()
        assert set(listed[0]) >= {
            "path",
            "headers",
            "body",
            "raw_size",
            "http_status",
            "response",
            "received_at",
        }

        stats = admin.get(f"{control}/stats", timeout=5).json()
        assert stats["requests"] == 3 and stats["accepted_events"] == 1

        assert admin.put(f"{control}/tokens", json=["rotated"], timeout=5).json() == {"tokens": 1}
        assert post(sandbox, full_body()).json()["code"] == CODE_TOKEN_INVALID
        assert post(sandbox, full_body(), token="rotated").json()["code"] == CODE_OK

        random_on = {"rate": 1.0, "faults": [{"kind": "tiktok_code", "code": 50000}], "seed": 1}
        assert admin.post(f"{control}/random_faults", json=random_on, timeout=5).status_code == 200
        assert post(sandbox, full_body(), token="rotated").json()["code"] == 50000

        assert admin.post(f"{control}/reset", timeout=5).json() == {"ok": True}
        assert admin.get(f"{control}/requests", timeout=5).json() == []
        assert post(sandbox, full_body(), token="rotated").json()["code"] == CODE_OK  # random faults off

        # Mistakes are answered, not ignored.
        bad = admin.post(f"{control}/faults", json=[{"kind": "explode"}], timeout=5)
        assert bad.status_code == 400 and "fault kind" in bad.json()["message"]
        assert admin.post(f"{control}/faults", data=b"{", timeout=5).status_code == 400
        assert admin.put(f"{control}/tokens", json="one", timeout=5).status_code == 400
        assert admin.get(f"{control}/nothing", timeout=5).status_code == 404

    # Control calls are not track requests.
    assert [record.path for record in sandbox.requests()] == [TRACK_PATH]


def test_control_api_marks_events_and_drips(sandbox: TikTokSandbox) -> None:
    control = sandbox.base_url + "/_sandbox"
    with requests.Session() as admin:
        assert admin.put(f"{control}/rejected_events", json=["evt-1"], timeout=5).json() == {
            "rejected_events": 1
        }
        assert post(sandbox, body_of(0, 1)).json()["code"] == CODE_INVALID_PARAMETER

        partial = {"event_ids": ["evt-0"], "message": "bad event"}
        assert admin.put(f"{control}/partial_failures", json=partial, timeout=5).json() == {
            "partial_failures": 1
        }
        assert admin.put(f"{control}/rejected_events", json=[], timeout=5).json() == {"rejected_events": 0}
        [failed] = post(sandbox, body_of(0, 1)).json()["data"]["failed_events"]
        assert (failed["index"], failed["message"]) == (0, "bad event")

        assert admin.put(f"{control}/partial_failures", json=["evt-1"], timeout=5).status_code == 200
        [failed] = post(sandbox, body_of(0, 1)).json()["data"]["failed_events"]
        assert (failed["event_id"], failed["message"]) == ("evt-1", "Invalid parameter.")

        listed = admin.get(f"{control}/requests", timeout=5).json()
        assert [item["response"]["code"] for item in listed] == [40002, 20001, 20001]
        assert listed[2]["response"]["data"]["failed_events"][0]["index"] == 1
        assert admin.get(f"{control}/stats", timeout=5).json()["partial_success_requests"] == 2

        drip = [{"kind": "drip", "seconds_per_byte": 0.003}]
        assert admin.post(f"{control}/faults", json=drip, timeout=5).json() == {"queued": 1}
        assert post(sandbox, body_of(2)).json()["code"] == CODE_OK
        assert sandbox.requests()[-1].fault == {"kind": "drip", "seconds_per_byte": 0.003, "body_only": False}

        # Mistakes are answered, not ignored, and change nothing.
        assert admin.put(f"{control}/rejected_events", json="evt-2", timeout=5).status_code == 400
        assert admin.put(f"{control}/rejected_events", json=[2], timeout=5).status_code == 400
        assert admin.put(f"{control}/partial_failures", json={"ids": ["evt-2"]}, timeout=5).status_code == 400
        assert admin.put(f"{control}/partial_failures", json="evt-2", timeout=5).status_code == 400
        bad_message = {"event_ids": ["evt-2"], "message": 5}
        assert admin.put(f"{control}/partial_failures", json=bad_message, timeout=5).status_code == 400
        assert post(sandbox, body_of(2)).json()["code"] == CODE_OK

        assert admin.post(f"{control}/reset", timeout=5).json() == {"ok": True}
        assert post(sandbox, body_of(1)).json()["code"] == CODE_OK  # the marks are gone


def test_command_line_runs_until_sigterm() -> None:
    secret = "cli-secret-token"
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.tiktok_sandbox", "--port", "0", "--token", secret],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        base_url = first_line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        response = requests.post(
            base_url + TRACK_PATH, json=full_body(), headers={"Access-Token": secret}, timeout=5
        )
        assert response.json()["code"] == CODE_OK
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert secret not in first_line + stdout + stderr
    assert stderr == ""

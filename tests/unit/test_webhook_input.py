"""The Webhook batch parser: one batch or an array, lenient values, malformed events isolated."""

import json
from pathlib import Path
from typing import Any

import pytest

from tiktok_connector.inbound.json_body import parse_json
from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.model.events import Batch, Event
from tiktok_connector.platform.errors import BadRequestError

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
BEYOND_FLOAT = 9007199254740993  # 2**53 + 1


def body(document: object) -> bytes:
    return json.dumps(document).encode("utf-8")


def parse_one(document: dict[str, Any]) -> Batch:
    batches = parse_webhook_body(body(document))
    assert len(batches) == 1
    return batches[0]


def commerce(action: str = "purchase", **data: Any) -> dict[str, Any]:
    event_data: dict[str, Any] = {
        "product_action": {"action": action, "products": [{"id": "1077218", "price": 25.0, "quantity": 2}]},
        "currency_code": "USD",
        "custom_flags": {"TikTok.URL": "https://shop.example.com/p"},
        "source_message_id": "fa7144e0-8d91-45a8-a818-2b9e9060b76b",
        "event_id": 5333365338074280876,
        "timestamp_unixtime_ms": 1741954212345,
    }
    event_data.update(data)
    return {"event_type": "commerce_event", "data": event_data}


def only_event(document: dict[str, Any]) -> Event:
    batch = parse_one(document)
    assert len(batch.events) == 1
    return batch.events[0]


def api_gateway_body(name: str) -> bytes:
    event = json.loads((EVENTS_DIR / name).read_text())
    return str(event["body"]).encode("utf-8")


# --- body shape ---------------------------------------------------------------------------------


def test_a_single_batch_object_is_one_batch() -> None:
    batches = parse_webhook_body(body({"events": [commerce()], "mpid": 1}))
    assert len(batches) == 1
    assert len(batches[0].events) == 1


def test_an_array_of_batches_keeps_every_batch_in_order() -> None:
    document = [
        {"events": [commerce("purchase")], "batch_id": 1},
        {"events": [commerce("add_to_cart"), commerce("checkout")], "batch_id": 2},
    ]
    batches = parse_webhook_body(body(document))
    assert [b.batch_id for b in batches] == ["1", "2"]
    assert [[e.product_action for e in b.events] for b in batches] == [
        ["purchase"],
        ["add_to_cart", "checkout"],
    ]


def test_an_empty_array_is_no_batch() -> None:
    assert parse_webhook_body(b"[]") == []


def test_unknown_fields_are_ignored_everywhere() -> None:
    document = {
        "schema_version": 2,
        "consent_state": {"ccpa": {}},
        "application_info": {"application_name": "x"},
        "brand_new_field": [1, {"x": None}],
        "events": [{**commerce(not_in_the_docs={"deep": [1, 2]}), "unexpected": True}],
    }
    event = only_event(document)
    assert event.invalid_reason is None
    assert event.product_action == "purchase"


@pytest.mark.parametrize("document", [{}, {"events": None}, {"events": []}])
def test_missing_or_empty_events_give_zero_events(document: dict[str, Any]) -> None:
    assert parse_one(document).events == []


@pytest.mark.parametrize("events", ["purchase", {"event_type": "commerce_event"}, 3, True])
def test_events_that_are_not_a_list_are_a_bad_request_naming_events(events: object) -> None:
    with pytest.raises(BadRequestError, match=r"\bevents\b"):
        parse_webhook_body(body({"events": events}))


@pytest.mark.parametrize("document", ['"text"', "3", "null", "true"])
def test_a_body_that_is_no_batch_is_a_bad_request(document: str) -> None:
    with pytest.raises(BadRequestError):
        parse_webhook_body(document.encode())


def test_a_non_object_inside_an_array_of_batches_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match=r"batch\[1\]"):
        parse_webhook_body(body([{"events": []}, "not a batch"]))


@pytest.mark.parametrize("raw", [b"", b"{", b'{"events": [}', b"\xff\xfe{}", b"{'events': []}"])
def test_malformed_json_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequestError):
        parse_webhook_body(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"NaN",
        b'{"events": [], "ip": Infinity}',
        b'{"events": [{"event_type": "commerce_event", "data": {"product_action": {"total_amount": NaN}}}]}',
        b'{"events": [{"event_type": "custom_event", "data": {"timestamp_unixtime_ms": -Infinity}}]}',
    ],
)
def test_nan_and_infinity_are_rejected(raw: bytes) -> None:
    with pytest.raises(BadRequestError, match=r"not a JSON number|not valid JSON"):
        parse_webhook_body(raw)


@pytest.mark.parametrize("depth", [50_000, 200_000])
def test_deeply_nested_json_is_a_bad_request_not_a_recursion_error(depth: int) -> None:
    with pytest.raises(BadRequestError):
        parse_json(b"[" * depth + b"]" * depth)
    nested_in_event = b'{"events": [{"event_type": "custom_event", "data": {"x": %s}}]}' % (
        b"[" * depth + b"]" * depth
    )
    with pytest.raises(BadRequestError):
        parse_webhook_body(nested_in_event)


@pytest.mark.parametrize("depth", [900, 5_000, 9_990])
def test_deep_but_parseable_nesting_inside_an_event_never_escapes_as_recursion_error(depth: int) -> None:
    # The event has no ids, so the parser derives one from its content: that must survive deep data too.
    nested = b'{"events": [{"event_type": "custom_event", "data": {"x": %s}}]}' % (
        b"[" * depth + b"]" * depth
    )
    try:
        batches = parse_webhook_body(nested)
    except BadRequestError:
        return
    assert batches[0].events[0].event_id


def test_a_body_that_is_not_utf8_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="UTF-8"):
        parse_webhook_body(b'{"ip": "\xff"}')


# --- malformed events are isolated ---------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_event",
    [
        "not an object",
        17,
        None,
        [commerce()],
        {"data": commerce()["data"]},  # no event_type
        {"event_type": 5, "data": {}},
        {"event_type": "commerce_event"},  # no data
        {"event_type": "commerce_event", "data": "text"},
        {"event_type": "commerce_event", "data": {"product_action": "purchase"}},
        {"event_type": "commerce_event", "data": {"product_action": {"action": "purchase", "products": {}}}},
    ],
)
def test_a_malformed_event_is_marked_invalid_while_the_others_parse(bad_event: object) -> None:
    batch = parse_one({"events": [commerce("add_to_cart"), bad_event, commerce("checkout")]})
    assert [e.invalid_reason is None for e in batch.events] == [True, False, True]
    assert [batch.events[0].product_action, batch.events[2].product_action] == ["add_to_cart", "checkout"]


def test_a_commerce_event_without_product_action_is_not_invalid() -> None:
    event = only_event({"events": [{"event_type": "commerce_event", "data": {"promotion_action": {}}}]})
    assert event.invalid_reason is None
    assert event.product_action is None


# --- ids and 64-bit integers ------------------------------------------------------------------------


def test_event_id_prefers_source_message_id() -> None:
    event = only_event({"events": [commerce(source_message_id="uuid-1", event_id=BEYOND_FLOAT)]})
    assert event.event_id == "uuid-1"
    assert event.source_event_id == str(BEYOND_FLOAT)


@pytest.mark.parametrize("raw_id", [BEYOND_FLOAT, str(BEYOND_FLOAT)])
def test_event_id_falls_back_to_the_int64_event_id_exactly(raw_id: object) -> None:
    event = only_event({"events": [commerce(source_message_id=None, event_id=raw_id)]})
    assert event.event_id == "9007199254740993"


def test_int64_as_raw_json_number_is_never_rounded_through_a_float() -> None:
    raw = (
        b'{"mpid": 7346244611012968789, "batch_id": 3619462417291384523,'
        b' "timestamp_unixtime_ms": 1741954213001,'
        b' "events": [{"event_type": "custom_event", "data": {"event_id": 5333365338074280877,'
        b' "timestamp_unixtime_ms": 1741954212345}}]}'
    )
    batch = parse_webhook_body(raw)[0]
    assert batch.batch_id == "3619462417291384523"
    assert batch.events[0].event_id == "5333365338074280877"
    assert batch.events[0].timestamp_ms == 1741954212345


def test_negative_int64_event_id_as_string() -> None:
    event = only_event({"events": [commerce(source_message_id=None, event_id="-6518616552181726857")]})
    assert event.event_id == "-6518616552181726857"


@pytest.mark.parametrize("source_message_id", [None, ""])
def test_empty_source_message_id_is_not_an_id(source_message_id: object) -> None:
    event = only_event({"events": [commerce(source_message_id=source_message_id, event_id="12")]})
    assert event.event_id == "12"


def test_an_event_without_ids_gets_one_that_is_stable_across_resends() -> None:
    document = {"mpid": 1, "events": [{"event_type": "custom_event", "data": {"event_name": "A"}}]}
    first = only_event(document).event_id
    again = only_event(json.loads(json.dumps(document))).event_id
    other = only_event({"mpid": 1, "events": [{"event_type": "custom_event", "data": {"event_name": "B"}}]})
    assert first is not None
    assert first == again
    assert first != other.event_id


@pytest.mark.parametrize("timestamp", [1741954212345, "1741954212345"])
def test_timestamps_as_number_or_string(timestamp: object) -> None:
    batch = parse_one(
        {"timestamp_unixtime_ms": timestamp, "events": [commerce(timestamp_unixtime_ms=timestamp)]}
    )
    assert batch.timestamp_ms == 1741954212345
    assert batch.events[0].timestamp_ms == 1741954212345


# --- batch context ----------------------------------------------------------------------------------


def test_ip_and_user_agent_are_read_unchanged() -> None:
    user_agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
    batch = parse_one({"ip": "203.0.113.24", "device_info": {"http_header_user_agent": user_agent}})
    assert batch.ip == "203.0.113.24"
    assert batch.user_agent == user_agent


@pytest.mark.parametrize(
    "document",
    [{}, {"ip": "", "device_info": {"http_header_user_agent": " "}}, {"ip": 5, "device_info": "x"}],
)
def test_missing_ip_and_user_agent_are_none(document: dict[str, Any]) -> None:
    batch = parse_one(document)
    assert batch.ip is None
    assert batch.user_agent is None


def test_outbound_identity_list_form() -> None:
    batch = parse_one(
        {
            "user_identities": [
                {"identity_type": "customer_id", "identity": "CUST-10042", "timestamp_unixtime_ms": 1},
                {"identity_type": "email", "identity": "jane.doe@example.com"},
                {"identity_type": "other_id_2", "identity": "loyalty-7"},
                {"identity_type": "mobile_number", "identity": "+14155550123"},
            ]
        }
    )
    assert {k: v.value for k, v in batch.identities.items()} == {
        "customer_id": "CUST-10042",
        "email": "jane.doe@example.com",
        "other_id_2": "loyalty-7",
        "mobile_number": "+14155550123",
    }


def test_inbound_identity_object_form() -> None:
    batch = parse_one({"user_identities": {"email": "jane.doe@example.com", "customer_id": "CUST-10042"}})
    assert {k: v.value for k, v in batch.identities.items()} == {
        "email": "jane.doe@example.com",
        "customer_id": "CUST-10042",
    }


def test_unusable_identities_are_ignored() -> None:
    batch = parse_one(
        {
            "user_identities": [
                {"identity_type": "email", "identity": ""},
                {"identity_type": "customer_id", "identity": None},
                {"identity_type": "not_a_type", "identity": "x"},
                {"identity": "no type"},
                "not an object",
                {"identity_type": "other", "identity": "kept"},
            ]
        }
    )
    assert {k: v.value for k, v in batch.identities.items()} == {"other": "kept"}


@pytest.mark.parametrize("identities", ["jane.doe@example.com", 5])
def test_user_identities_of_another_shape_is_a_bad_request(identities: object) -> None:
    with pytest.raises(BadRequestError, match="user_identities"):
        parse_webhook_body(body({"user_identities": identities}))


# --- event fields -------------------------------------------------------------------------------------


def test_commerce_fields() -> None:
    event = only_event(
        {
            "events": [
                commerce(
                    "purchase",
                    product_action={
                        "action": "purchase",
                        "transaction_id": "ORD-1",
                        "total_amount": "74.50",
                        "products": [
                            {
                                "id": 1077218,
                                "name": "Shoe",
                                "category": "apparel",
                                "price": "25",
                                "quantity": "2",
                            },
                            "not a product",
                        ],
                    },
                    currency_code="usd",
                )
            ]
        }
    )
    assert event.product_action == "purchase"
    assert event.transaction_id == "ORD-1"
    assert event.total_amount == 74.5  # typed once, here: the mapper copies it
    assert event.currency_code == "USD"
    assert len(event.products) == 1
    product = event.products[0]
    assert (product.id, product.name, product.category, product.price, product.quantity) == (
        "1077218",
        "Shoe",
        "apparel",
        25,
        2,
    )
    assert type(product.price) is int and type(product.quantity) is int
    assert event.warnings == ()


def test_currency_code_is_read_at_event_data_level_first() -> None:
    data_level = commerce(currency_code="EUR")
    data_level["data"]["product_action"]["currency_code"] = "GBP"
    assert only_event({"events": [data_level]}).currency_code == "EUR"


def test_custom_event_and_screen_view_names() -> None:
    batch = parse_one(
        {
            "events": [
                {
                    "event_type": "custom_event",
                    "data": {"event_name": "Site Search", "custom_event_type": "search"},
                },
                {"event_type": "screen_view", "data": {"screen_name": "Product Detail"}},
            ]
        }
    )
    custom, screen = batch.events
    assert (custom.name, custom.custom_event_type) == ("Site Search", "search")
    assert screen.name == "Product Detail"
    assert screen.custom_event_type is None


def test_custom_flags_as_string_or_list() -> None:
    event = only_event(
        {
            "events": [
                commerce(
                    custom_flags={
                        "TikTok.URL": ["https://shop.example.com/a", "https://shop.example.com/b"],
                        "TikTok.Referrer": "https://www.tiktok.com/",
                        "Empty.List": [],
                        "Object": {"x": 1},
                    }
                )
            ]
        }
    )
    assert event.custom_flags == {  # by lower-cased name: flag names are case-insensitive
        "tiktok.url": "https://shop.example.com/a",
        "tiktok.referrer": "https://www.tiktok.com/",
    }


@pytest.mark.parametrize("attributes", [None, "text", ["a"]])
def test_custom_attributes_that_are_not_an_object_are_empty(attributes: object) -> None:
    event = only_event(
        {"events": [{"event_type": "custom_event", "data": {"custom_attributes": attributes}}]}
    )
    assert event.custom_attributes == {}
    assert event.invalid_reason is None


# --- the samples in events/ ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in EVENTS_DIR.glob("webhook-*.json") if p.name != "webhook-bad-request.json"),
)
def test_every_sample_body_parses_with_string_event_ids(name: str) -> None:
    batches = parse_webhook_body(api_gateway_body(name))
    events = [event for batch in batches for event in batch.events if event.invalid_reason is None]
    assert events
    for event in events:
        assert isinstance(event.event_id, str)
        assert event.event_id


def test_the_array_sample_isolates_its_malformed_event() -> None:
    batches = parse_webhook_body(api_gateway_body("webhook-array-of-batches.json"))
    assert len(batches) > 1
    invalid = [event for batch in batches for event in batch.events if event.invalid_reason is not None]
    valid = [event for batch in batches for event in batch.events if event.invalid_reason is None]
    assert len(invalid) == 1
    assert len(valid) >= 3


def test_the_bad_request_sample_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError):
        parse_webhook_body(api_gateway_body("webhook-bad-request.json"))


# --- typed once, at the edge ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product_action", "product", "typed", "warnings"),
    [
        ({"total_amount": "74.50"}, {"price": "25", "quantity": "2.0"}, (74.5, 25, 2), ()),
        ({"total_amount": 1e20}, {"price": 25.5, "quantity": 2}, (None, 25.5, 2), ("invalid_value",)),
        (
            {"total_amount": "lots"},
            {"price": "free", "quantity": 1.5},
            (None, None, None),
            (
                "invalid_value",
                "invalid_price",
                "invalid_quantity",
            ),
        ),
        (
            {"total_amount": True},
            {"price": [1], "quantity": "many"},
            (None, None, None),
            (
                "invalid_value",
                "invalid_price",
                "invalid_quantity",
            ),
        ),
        ({}, {}, (None, None, None), ()),
    ],
)
def test_amounts_are_read_once_and_what_cannot_be_read_is_named(
    product_action: dict[str, Any],
    product: dict[str, Any],
    typed: tuple[object, ...],
    warnings: tuple[str, ...],
) -> None:
    event = commerce()
    event["data"]["product_action"] |= product_action
    event["data"]["product_action"]["products"] = [{"id": "A", **product}]

    parsed = only_event({"events": [event]})

    assert (parsed.total_amount, parsed.products[0].price, parsed.products[0].quantity) == typed
    assert sorted(parsed.warnings) == sorted(warnings)
    for value in typed:
        assert value is None or type(value) in (int, float)


@pytest.mark.parametrize("timestamp", [5, "1741954212", 10**19, -1741954212345])
def test_an_implausible_event_time_is_named_and_the_batch_time_taken(timestamp: object) -> None:
    batch = parse_one(
        {"timestamp_unixtime_ms": 1741954213001, "events": [commerce(timestamp_unixtime_ms=timestamp)]}
    )

    assert batch.events[0].timestamp_ms == 1741954213001
    assert batch.events[0].warnings == ("invalid_timestamp",)


def test_an_implausible_batch_time_is_none() -> None:
    batch = parse_one({"timestamp_unixtime_ms": 17, "events": [commerce(timestamp_unixtime_ms=None)]})

    assert (batch.timestamp_ms, batch.events[0].timestamp_ms, batch.events[0].warnings) == (None, None, ())


def test_custom_attributes_are_text() -> None:
    attributes = {
        "plan": "pro",
        "seats": 10,
        "ratio": 2.5,
        "trial": True,
        "tags": ["a"],
        "meta": {"x": 1},
        "gone": None,
    }

    event = only_event(
        {"events": [{"event_type": "custom_event", "data": {"custom_attributes": attributes}}]}
    )

    assert event.custom_attributes == {
        "plan": "pro",
        "seats": "10",
        "ratio": "2.5",
        "trial": "true",
        "tags": None,
        "meta": None,
    }


def test_flags_are_keyed_by_lower_cased_name_trimmed_first_non_blank_wins() -> None:
    flags = {
        "TikTok.URL": " https://a.example/ ",
        "TIKTOK.URL": "https://b.example/",
        "TikTok.Referrer": "  ",
    }

    assert only_event({"events": [commerce(custom_flags=flags)]}).custom_flags == {
        "tiktok.url": "https://a.example/"
    }


# --- identities given as JSON numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "identities",
    [
        {
            "customer_id": 123456,
            "other_id_2": BEYOND_FLOAT,
            "other_id_4": 18446744073709551617,
            "email": True,
            "other": 1.5,
            "other_id_3": 7.0,
        },
        [
            {"identity_type": "customer_id", "identity": 123456},
            {"identity_type": "other_id_2", "identity": BEYOND_FLOAT},
            {"identity_type": "other_id_4", "identity": 18446744073709551617},
            {"identity_type": "email", "identity": False},
            {"identity_type": "other", "identity": 1.5},
            {"identity_type": "other_id_3", "identity": 7.0},
        ],
    ],
    ids=["inbound object", "outbound list"],
)
def test_integer_identities_are_read_as_their_decimal_string(identities: object) -> None:
    # Exact to the last digit, never through a float; beyond 2**64 the JSON reader itself would give a
    # float, so such a value is left out rather than hashed rounded. Booleans and fractions are no ids.
    batch = parse_one({"user_identities": identities})

    assert {k: v.value for k, v in batch.identities.items()} == {
        "customer_id": "123456",
        "other_id_2": "9007199254740993",
    }


# --- user attributes, device locale, consent (parsed for fields to come) --------------------------------


def test_user_attributes_locale_and_consent_are_read() -> None:
    batch = parse_one(
        {
            "user_attributes": {
                "$FirstName": "Jane",
                "$firstname": "Other",
                "$Zip": 94107,
                "tags": ["a"],
                "x": " ",
            },
            "device_info": {"locale_language": "EN", "locale_country": "us"},
            "consent_state": {
                "gdpr": {"Marketing": {"consented": True}, "analytics": {"consented": "yes"}},
                "ccpa": {"data_sale_opt_out": {"consented": False, "document": "d"}},
            },
        }
    )

    assert batch.user_attributes == {"$firstname": "Jane", "$zip": "94107"}
    assert (batch.locale_language, batch.locale_country) == ("en", "US")
    assert batch.consent.gdpr == {"marketing": True}
    assert batch.consent.ccpa == {"data_sale_opt_out": False}


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("en", "US", ("en", "US")),
        ("en", "en_US", ("en", "US")),
        ("pt-BR", "pt-BR", ("pt", "BR")),
        ("es", "419", ("es", "419")),
        ("", "  ", (None, None)),
        ("english!", "USA1", (None, None)),
        (None, 5, (None, None)),
    ],
)
def test_device_locale(language: object, country: object, expected: tuple[str | None, str | None]) -> None:
    batch = parse_one({"device_info": {"locale_language": language, "locale_country": country}})

    assert (batch.locale_language, batch.locale_country) == expected


@pytest.mark.parametrize("consent", [None, "granted", {"gdpr": "x", "ccpa": ["y"]}, {"gdpr": {"p": "yes"}}])
def test_unreadable_consent_is_empty(consent: object) -> None:
    batch = parse_one({"consent_state": consent})

    assert (batch.consent.gdpr, batch.consent.ccpa) == ({}, {})

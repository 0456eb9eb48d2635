"""Pure mapping: native commerce events, standard event info, identities, skip reasons."""

import copy
import hashlib
import json
import time
from typing import Any

import pytest

from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping.custom import parse_custom_mappings
from tiktok_connector.mapping.mapper import MappedEvent, MappingResult, build_requests
from tiktok_connector.mapping.mapper import map_batches as map_parsed
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.mapping.vocabulary import CURRENCIES, NATIVE_COMMERCE_EVENTS
from tiktok_connector.model.tiktok import SourceRef

JsonObject = dict[str, Any]

# mParticle's TikTok integration document: its "Event Mappings for Native mParticle Event Types"
# table, written out here on purpose:
# a change to the code's table must fail this test, not follow it silently.
INTEGRATION_NATIVE_TABLE = {
    "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist",
    "purchase": "PlaceAnOrder",
    "checkout": "InitiateCheckout",
    "view_detail": "ViewContent",
}
URL = "https://shop.example.com/checkout/complete"
IP = "203.0.113.24"
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15"
)
EMAIL = "jane.doe@example.com"
BEYOND_FLOAT = 9007199254740993  # 2**53 + 1


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def commerce(action: str = "purchase", **data: Any) -> JsonObject:
    """A commerce event with a valid page URL; keyword arguments replace its data fields."""
    event_data: JsonObject = {
        "product_action": {
            "action": action,
            "transaction_id": "ORD-1",
            "total_amount": 50.0,
            "products": [
                {"id": "1077218", "name": "Shoe", "category": "apparel", "price": 25.0, "quantity": 2}
            ],
        },
        "currency_code": "USD",
        "custom_flags": {"TikTok.URL": URL},
        "source_message_id": "fa7144e0-8d91-45a8-a818-2b9e9060b76b",
        "event_id": 5333365338074280876,
        "timestamp_unixtime_ms": 1741954212345,
    }
    event_data.update(data)
    return {"event_type": "commerce_event", "data": event_data}


def with_action(event: JsonObject, **product_action: Any) -> JsonObject:
    changed = copy.deepcopy(event)
    changed["data"]["product_action"].update(product_action)
    return changed


def batch(*events: object, **fields: Any) -> JsonObject:
    document: JsonObject = {
        "events": list(events),
        "user_identities": [{"identity_type": "email", "identity": EMAIL}],
        "ip": IP,
        "device_info": {"http_header_user_agent": UA},
        "mpid": 7346244611012968789,
        "batch_id": 3619462417291384522,
        "timestamp_unixtime_ms": 1741954213001,
    }
    document.update(fields)
    return document


def run(document: object, settings: MappingSettings | None = None) -> MappingResult:
    batches = parse_webhook_body(json.dumps(document).encode("utf-8"))
    return map_parsed(batches, settings or MappingSettings())


def single(document: object, settings: MappingSettings | None = None) -> JsonObject:
    result = run(document, settings)
    assert not result.skipped, result.skipped
    assert len(result.mapped) == 1
    return result.mapped[0].payload


def payload_at(result: MappingResult, index: int = 0) -> JsonObject:
    """A mapped payload typed for reading nested fields in assertions."""
    payload: JsonObject = result.mapped[index].payload
    return payload


def properties(document: object, settings: MappingSettings | None = None) -> JsonObject:
    props = single(document, settings)["properties"]
    assert isinstance(props, dict)
    return props


def find_nulls(value: object, path: str = "$") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in find_nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in find_nulls(v, f"{path}[{i}]")]
    return []


# --- the reference purchase, end to end ---------------------------------------------------------------

REFERENCE_PURCHASE: JsonObject = {
    "events": [
        {
            "data": {
                "custom_event_type": "purchase",
                "product_action": {
                    "action": "purchase",
                    "transaction_id": "ORD-2025-000123",
                    "affiliation": "web-store",
                    "total_amount": 74.5,
                    "tax_amount": 5.5,
                    "shipping_amount": 4.0,
                    "coupon_code": "SPRING10",
                    "products": [
                        {
                            "id": "1077218",
                            "name": "Trail Running Shoe",
                            "brand": "Acme",
                            "category": "apparel",
                            "variant": "blue-42",
                            "position": 1,
                            "price": 25.0,
                            "quantity": 2,
                            "total_product_amount": 50.0,
                            "custom_attributes": {"size": "42"},
                        },
                        {
                            "id": "2203001",
                            "name": "Sport Socks",
                            "category": "apparel",
                            "price": 15.0,
                            "quantity": 1,
                            "total_product_amount": 15.0,
                        },
                    ],
                },
                "currency_code": "USD",
                "is_non_interactive": False,
                "custom_attributes": {"checkout_variant": "one-page"},
                "custom_flags": {
                    "TikTok.URL": "https://shop.example.com/checkout/complete",
                    "TikTok.Referrer": "https://shop.example.com/checkout",
                    "TikTok.Callback": "E.C.P.v3fQ2RHacdksKfofPmlyuStIIHJ4Af1tKYxF9zz2c2PLx1Oaw15oHpcfl5AH",
                },
                "event_id": 5333365338074280876,
                "source_message_id": "fa7144e0-8d91-45a8-a818-2b9e9060b76b",
                "session_id": 6051321688317951794,
                "timestamp_unixtime_ms": 1741954212345,
            },
            "event_type": "commerce_event",
        }
    ],
    "device_info": {"platform": "web", "http_header_user_agent": UA, "screen_width": 1512},
    "user_attributes": {"$firstname": "Jane"},
    "user_identities": [
        {"identity_type": "customer_id", "identity": "CUST-10042", "timestamp_unixtime_ms": 1741000000000},
        {
            "identity_type": "email",
            "identity": "jane.doe@example.com",
            "timestamp_unixtime_ms": 1741000000000,
        },
        {
            "identity_type": "mobile_number",
            "identity": "+14155550123",
            "timestamp_unixtime_ms": 1741000000000,
        },
    ],
    "source_request_id": "40718bcf-c6a9-46da-85f4-5d40b962872d",
    "environment": "production",
    "schema_version": 2,
    "mpid": 7346244611012968789,
    "ip": "203.0.113.24",
    "batch_id": 3619462417291384522,
    "timestamp_unixtime_ms": 1741954213001,
}


def test_reference_purchase_maps_to_exactly_this_tiktok_event() -> None:
    result = run(REFERENCE_PURCHASE)
    assert result.received == 1
    assert not result.skipped
    assert not result.warnings
    assert len(result.mapped) == 1
    assert result.mapped[0].payload == {
        "event": "PlaceAnOrder",
        "event_time": 1741954212,
        "event_id": "fa7144e0-8d91-45a8-a818-2b9e9060b76b",
        "user": {
            "email": sha256("jane.doe@example.com"),
            "phone": sha256("+14155550123"),
            "external_id": sha256("CUST-10042"),
            "ip": "203.0.113.24",
            "user_agent": UA,
            "first_name": sha256("jane"),  # the reserved user attribute `$firstname`
            "ttclid": "E.C.P.v3fQ2RHacdksKfofPmlyuStIIHJ4Af1tKYxF9zz2c2PLx1Oaw15oHpcfl5AH",
        },
        "page": {
            "url": "https://shop.example.com/checkout/complete",
            "referrer": "https://shop.example.com/checkout",
        },
        "properties": {
            "contents": [
                {
                    "price": 25.0,
                    "quantity": 2,
                    "content_id": "1077218",
                    "content_category": "apparel",
                    "content_name": "Trail Running Shoe",
                    "brand": "Acme",
                },
                {
                    "price": 15.0,
                    "quantity": 1,
                    "content_id": "2203001",
                    "content_category": "apparel",
                    "content_name": "Sport Socks",
                },
            ],
            "content_ids": ["1077218", "2203001"],
            "content_type": "product",
            "currency": "USD",
            "value": 74.5,
            "order_id": "ORD-2025-000123",
        },
    }
    assert result.mapped[0].source == SourceRef(
        event_id="fa7144e0-8d91-45a8-a818-2b9e9060b76b",
        batch_id="3619462417291384522",
        source_event_id="5333365338074280876",
    )


# --- 3.1 native commerce mapping ------------------------------------------------------------------------


def test_the_code_table_is_the_integration_documents_table() -> None:
    assert NATIVE_COMMERCE_EVENTS == INTEGRATION_NATIVE_TABLE


@pytest.mark.parametrize(("action", "tiktok_event"), sorted(INTEGRATION_NATIVE_TABLE.items()))
def test_native_commerce_mapping(action: str, tiktok_event: str) -> None:
    assert single(batch(commerce(action)))["event"] == tiktok_event


@pytest.mark.parametrize(
    "event",
    [
        commerce("refund"),
        commerce("remove_from_cart"),
        commerce("click"),
        commerce("checkout_option"),
        commerce("remove_from_wish_list"),
        commerce("not_an_action"),
        {"event_type": "commerce_event", "data": {"promotion_action": {"action": "view"}}},
        {"event_type": "commerce_event", "data": {"product_action": {"products": []}}},
        {
            "event_type": "custom_event",
            "data": {"event_name": "Add To Cart", "custom_event_type": "transaction"},
        },
        {"event_type": "screen_view", "data": {"screen_name": "Checkout"}},
        {"event_type": "session_start", "data": {}},
        {"event_type": "session_end", "data": {"session_duration_ms": 1000}},
        {"event_type": "user_attribute_change", "data": {"user_attribute_name": "tier", "new": "gold"}},
        {"event_type": "user_identity_change", "data": {"new": {"identity_type": "email"}}},
        {"event_type": "application_state_transition", "data": {}},
    ],
    ids=lambda event: f"{event['event_type']}:{event['data'].get('product_action', {}).get('action', '')}",
)
def test_other_events_are_unsupported(event: JsonObject) -> None:
    event = copy.deepcopy(event)
    event["data"].setdefault("custom_flags", {"TikTok.URL": URL})
    result = run(batch(event))
    assert result.mapped == []
    assert result.skipped == {"unsupported_event": 1}


def test_a_custom_mapping_wins_over_the_native_mapping() -> None:
    mappings = parse_custom_mappings(
        json.dumps(
            [
                {
                    "match": {"event_type": "commerce_event", "product_action": "add_to_cart"},
                    "tiktok_event": "AddPaymentInfo",
                }
            ]
        )
    )
    settings = MappingSettings(custom_mappings=mappings)
    assert single(batch(commerce("add_to_cart")), settings)["event"] == "AddPaymentInfo"
    assert single(batch(commerce("checkout")), settings)["event"] == "InitiateCheckout"


# --- commerce properties -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("usd", "USD"), ("Eur", "EUR"), (" gbp ", "GBP"), ("JPY", "JPY")]
)
def test_currency_is_upper_cased(raw: str, expected: str) -> None:
    assert properties(batch(commerce(currency_code=raw)))["currency"] == expected


def test_currency_comes_from_data_level_currency_code() -> None:
    event = with_action(commerce(currency_code="EUR"), currency_code="GBP")
    assert properties(batch(event))["currency"] == "EUR"


@pytest.mark.parametrize(
    ("raw", "expected"), [(74.5, 74.5), (100, 100), ("74.50", 74.5), ("100", 100), (0, 0)]
)
def test_value_comes_from_total_amount_numeric_strings_included(raw: object, expected: float) -> None:
    value = properties(batch(with_action(commerce(), total_amount=raw)))["value"]
    assert value == expected
    assert isinstance(value, (int, float))
    assert not isinstance(value, bool)


def test_a_value_that_is_no_number_is_left_out_with_a_warning() -> None:
    result = run(batch(with_action(commerce(), total_amount="seventy")))
    props = payload_at(result)["properties"]
    assert "value" not in props
    assert props["currency"] == "USD"
    assert result.warnings["invalid_value"] == 1


@pytest.mark.parametrize(
    ("product", "item"),
    [
        (
            {"id": "1077218", "name": "Shoe", "category": "apparel", "price": 25.0, "quantity": 2},
            {
                "content_id": "1077218",
                "content_name": "Shoe",
                "content_category": "apparel",
                "price": 25.0,
                "quantity": 2,
            },
        ),
        (
            {"id": 1077218, "price": "25.50", "quantity": "3"},
            {"content_id": "1077218", "price": 25.5, "quantity": 3},
        ),
        ({"id": BEYOND_FLOAT, "quantity": 2.0}, {"content_id": "9007199254740993", "quantity": 2}),
        ({"id": str(BEYOND_FLOAT)}, {"content_id": "9007199254740993"}),
        ({"name": "Gift card", "price": 10}, {"content_name": "Gift card", "price": 10}),
        (
            {"category": "apparel", "brand": "Acme", "variant": "blue"},
            {"content_category": "apparel", "brand": "Acme"},
        ),
    ],
)
def test_contents_items_from_products(product: JsonObject, item: JsonObject) -> None:
    contents = properties(batch(with_action(commerce(), products=[product])))["contents"]
    assert contents == [item]
    assert all(type(item[k]) is str for k in ("content_id", "content_name", "content_category") if k in item)
    if "quantity" in item:
        assert type(contents[0]["quantity"]) is int


@pytest.mark.parametrize("quantity", [1.5, "1.5", "2.25", "many", True])
def test_a_quantity_that_is_not_whole_is_left_out_of_its_item_with_a_warning(quantity: object) -> None:
    products = [
        {"id": "A", "price": 10, "quantity": quantity},
        {"id": "B", "price": 5, "quantity": 1},
    ]
    result = run(batch(with_action(commerce(), products=products)))
    contents = payload_at(result)["properties"]["contents"]
    assert contents == [{"content_id": "A", "price": 10}, {"content_id": "B", "price": 5, "quantity": 1}]
    assert result.warnings["invalid_quantity"] == 1


def test_each_non_whole_quantity_counts_once() -> None:
    products = [{"id": "A", "quantity": 0.5}, {"id": "B", "quantity": "1.5"}]
    result = run(batch(with_action(commerce(), products=products)))
    assert result.warnings["invalid_quantity"] == 2


# TikTok's documented currency list (Events API 2.0, supported currencies).
TIKTOK_DOCUMENTED_CURRENCIES = (
    "AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ "
    "HKD HNL HUF IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN "
    "PYG QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR"
).split()


def test_the_currency_list_is_tiktoks() -> None:
    assert sorted(CURRENCIES) == sorted(TIKTOK_DOCUMENTED_CURRENCIES)


@pytest.mark.parametrize("currency", TIKTOK_DOCUMENTED_CURRENCIES)
def test_every_listed_currency_is_sent_with_its_value(currency: str) -> None:
    props = properties(batch(commerce(currency_code=currency.lower())))
    assert (props["currency"], props["value"]) == (currency, 50.0)


@pytest.mark.parametrize("currency", ["XYZ", "BTC", "usdt", "840", "AFN", "BGN"])
def test_an_unsupported_currency_drops_currency_and_value_with_a_warning(currency: str) -> None:
    result = run(batch(commerce(currency_code=currency)))
    props = payload_at(result)["properties"]
    assert "currency" not in props
    assert "value" not in props
    assert props["contents"]  # the rest of the event still goes
    assert props["order_id"] == "ORD-1"
    assert result.warnings["unsupported_currency"] == 1


@pytest.mark.parametrize("content_type", ["product", "product_group"])
def test_content_type_comes_from_the_setting(content_type: str) -> None:
    props = properties(batch(commerce("add_to_cart")), MappingSettings(content_type=content_type))
    assert props["content_type"] == content_type


@pytest.mark.parametrize(
    ("transaction_id", "order_id"), [("ORD-1", "ORD-1"), (12345, "12345"), (BEYOND_FLOAT, "9007199254740993")]
)
def test_order_id_is_the_transaction_id_as_a_string_for_purchase(
    transaction_id: object, order_id: str
) -> None:
    props = properties(batch(with_action(commerce("purchase"), transaction_id=transaction_id)))
    assert props["order_id"] == order_id


@pytest.mark.parametrize("action", ["add_to_cart", "checkout", "view_detail", "add_to_wishlist"])
def test_order_id_only_for_purchase(action: str) -> None:
    props = properties(batch(with_action(commerce(action), transaction_id="ORD-1")))
    assert "order_id" not in props


def test_properties_without_a_source_are_omitted_never_null() -> None:
    bare = {
        "event_type": "commerce_event",
        "data": {
            "product_action": {
                "action": "purchase",
                "transaction_id": None,
                "total_amount": None,
                "products": None,
            },
            "currency_code": None,
            "custom_flags": {"TikTok.URL": URL, "TikTok.Referrer": None, "TikTok.Callback": None},
            "event_id": 1,
        },
    }
    payload = single(batch(bare, ip=None, device_info={"http_header_user_agent": None}))
    assert find_nulls(payload) == []
    assert payload["properties"] == {"content_type": "product"}
    assert "referrer" not in payload["page"]
    assert set(payload["user"]) == {"email"}


def test_products_with_nothing_usable_give_no_contents() -> None:
    # (a brand is usable: it is sent as the item's `brand`)
    props = properties(
        batch(with_action(commerce(), products=[{}, {"variant": "blue", "position": 1}, "text"]))
    )
    assert "contents" not in props
    assert "content_ids" not in props


def test_a_value_without_currency_still_goes() -> None:
    props = properties(batch(commerce(currency_code=None)))
    assert props["value"] == 50.0
    assert "currency" not in props


# --- 3.2 standard event info ---------------------------------------------------------------------------


def test_event_id_is_source_message_id_when_present() -> None:
    payload = single(batch(commerce(source_message_id="uuid-42", event_id=BEYOND_FLOAT)))
    assert payload["event_id"] == "uuid-42"


@pytest.mark.parametrize("raw_id", [BEYOND_FLOAT, str(BEYOND_FLOAT)])
def test_event_id_falls_back_to_the_decimal_int64(raw_id: object) -> None:
    payload = single(batch(commerce(source_message_id=None, event_id=raw_id)))
    assert payload["event_id"] == "9007199254740993"


def test_event_id_as_a_raw_json_number_beyond_2_53_is_exact() -> None:
    document = json.dumps(batch(commerce(source_message_id=None, event_id=0)))
    document = document.replace('"event_id": 0', '"event_id": 9223372036854775807')
    result = map_parsed(parse_webhook_body(document.encode()), MappingSettings())
    assert payload_at(result)["event_id"] == "9223372036854775807"


@pytest.mark.parametrize(
    "event",
    [
        commerce(source_message_id="uuid-1"),
        commerce(source_message_id=None, event_id="-6518616552181726857"),
        commerce(source_message_id=None, event_id=None),
    ],
    ids=["source_message_id", "event_id", "no_id"],
)
def test_event_id_is_a_string_and_the_same_on_every_retry(event: JsonObject) -> None:
    first = single(batch(event))["event_id"]
    retried = single(json.loads(json.dumps(batch(event))))["event_id"]
    assert isinstance(first, str)
    assert first
    assert first == retried


def test_event_time_is_seconds_from_the_event_timestamp() -> None:
    assert single(batch(commerce(timestamp_unixtime_ms=1741954212999)))["event_time"] == 1741954212
    assert single(batch(commerce(timestamp_unixtime_ms="1741954212001")))["event_time"] == 1741954212


def test_event_time_falls_back_to_the_batch_timestamp() -> None:
    document = batch(commerce(timestamp_unixtime_ms=None), timestamp_unixtime_ms="1741954213001")
    assert single(document)["event_time"] == 1741954213


@pytest.mark.parametrize("timestamp", [5, 1741954212, 10**19, -1741954212345])
def test_an_implausible_event_timestamp_falls_back_with_a_warning(timestamp: int) -> None:
    # Seconds instead of milliseconds, or garbage: TikTok would refuse the whole request over it.
    result = run(batch(commerce(timestamp_unixtime_ms=timestamp)))

    assert payload_at(result)["event_time"] == 1741954213
    assert result.warnings["invalid_timestamp"] == 1


def test_event_time_falls_back_to_now() -> None:
    before = int(time.time())
    event_time = single(batch(commerce(timestamp_unixtime_ms=None), timestamp_unixtime_ms=None))["event_time"]
    after = int(time.time())
    assert before <= event_time <= after


def test_ip_and_user_agent_are_sent_as_received_never_hashed() -> None:
    user = single(batch(commerce(), ip="2001:db8::42"))["user"]
    assert user["ip"] == "2001:db8::42"
    assert user["user_agent"] == UA


@pytest.mark.parametrize(
    ("fields", "warnings"),
    [
        ({"ip": None}, {"missing_ip": 2}),
        ({"device_info": {"platform": "web"}}, {"missing_user_agent": 2}),
        ({"ip": "", "device_info": None}, {"missing_ip": 2, "missing_user_agent": 2}),
    ],
)
def test_missing_ip_or_user_agent_still_sends_and_counts(
    fields: JsonObject, warnings: dict[str, int]
) -> None:
    result = run(batch(commerce("add_to_cart"), commerce("checkout"), **fields))
    assert len(result.mapped) == 2
    assert dict(result.warnings) == warnings
    for mapped in result.mapped:
        user: JsonObject = mapped.payload["user"]  # type: ignore[assignment]
        assert ("ip" in user) is ("missing_ip" not in warnings)
        assert ("user_agent" in user) is ("missing_user_agent" not in warnings)


@pytest.mark.parametrize("url", ["http://shop.example.com/p", "https://shop.example.com/p?x=1"])
def test_a_valid_page_url_is_page_url(url: str) -> None:
    assert single(batch(commerce(custom_flags={"TikTok.URL": url})))["page"] == {"url": url}


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"TikTok.URL": ""},
        {"TikTok.URL": "   "},
        {"TikTok.URL": "shop.example.com/p"},
        {"TikTok.URL": "www.shop.example.com"},
        {"TikTok.URL": "ftp://shop.example.com/p"},
        {"TikTok.URL": "//shop.example.com/p"},
        {"TikTok.URL": "javascript:alert(1)"},
        {"TikTok.URL": "http:/shop.example.com"},
        {"TikTok.URL": "https:shop.example.com"},
        {"TikTok.URL": "httpshop.example.com"},
        {"TikTok.URL": []},
        {"TikTok.Referrer": "https://shop.example.com/"},
    ],
)
def test_an_event_without_a_valid_page_url_is_skipped(flags: JsonObject) -> None:
    result = run(batch(commerce(custom_flags=flags)))
    assert result.mapped == []
    assert result.skipped == {"invalid_page_url": 1}


def test_referrer_goes_to_page_referrer() -> None:
    flags = {"TikTok.URL": URL, "TikTok.Referrer": "https://www.tiktok.com/"}
    assert single(batch(commerce(custom_flags=flags)))["page"] == {
        "url": URL,
        "referrer": "https://www.tiktok.com/",
    }


@pytest.mark.parametrize(
    ("callback", "ttclid"),
    [
        (
            "E.C.P.v3fQ2RHacdksKfofPmlyuStIIHJ4Af1tKYxF9zz2c2PLx1Oaw15oHpcfl5AH",
            "E.C.P.v3fQ2RHacdksKfofPmlyuStIIHJ4Af1tKYxF9zz2c2PLx1Oaw15oHpcfl5AH",
        ),
        (["E.C.P.first", "E.C.P.second"], "E.C.P.first"),
        ("dummy", None),
        ("e.c.p.lowercase", None),
        ("ECP123", None),
        ("", None),
    ],
)
def test_callback_is_ttclid_only_when_it_starts_with_ecp(callback: object, ttclid: str | None) -> None:
    user = single(batch(commerce(custom_flags={"TikTok.URL": URL, "TikTok.Callback": callback})))["user"]
    assert user.get("ttclid") == ttclid


def test_custom_flags_as_lists_use_the_first_element() -> None:
    flags = {"TikTok.URL": [URL, "https://other.example/"], "TikTok.Referrer": ["https://www.tiktok.com/"]}
    assert single(batch(commerce(custom_flags=flags)))["page"] == {
        "url": URL,
        "referrer": "https://www.tiktok.com/",
    }


# --- 3.3 identities -----------------------------------------------------------------------------------


IDENTITIES_LIST = [
    {"identity_type": "customer_id", "identity": "CUST-10042"},
    {"identity_type": "email", "identity": " Jane.Doe@Example.com "},
    {"identity_type": "mobile_number", "identity": "(415) 555-0123"},
    {"identity_type": "other_id_2", "identity": "loyalty-7"},
    {"identity_type": "other", "identity": "other@example.com"},
]
HASHED_DEFAULTS = {
    "email": sha256("jane.doe@example.com"),
    "phone": sha256("+14155550123"),
    "external_id": sha256("CUST-10042"),
}


def identifiers(user: JsonObject) -> JsonObject:
    return {k: v for k, v in user.items() if k in {"email", "phone", "external_id"}}


def test_identities_in_the_outbound_list_form() -> None:
    user = single(batch(commerce(), user_identities=IDENTITIES_LIST))["user"]
    assert identifiers(user) == HASHED_DEFAULTS


def test_identities_in_the_inbound_object_form() -> None:
    inbound = {item["identity_type"]: item["identity"] for item in IDENTITIES_LIST}
    user = single(batch(commerce(), user_identities=inbound))["user"]
    assert identifiers(user) == HASHED_DEFAULTS


def test_the_identity_settings_choose_the_source_identity_types() -> None:
    settings = MappingSettings(
        email_identity_type="other", external_identity_type="other_id_2", phone_identity_type="mobile_number"
    )
    user = single(batch(commerce(), user_identities=IDENTITIES_LIST), settings)["user"]
    assert identifiers(user) == {
        "email": sha256("other@example.com"),
        "phone": sha256("+14155550123"),
        "external_id": sha256("loyalty-7"),
    }


def test_the_default_phone_region_serves_numbers_without_country_code() -> None:
    ids = [{"identity_type": "mobile_number", "identity": "020 7946 0958"}]
    user = single(batch(commerce(), user_identities=ids), MappingSettings(default_phone_region="GB"))["user"]
    assert identifiers(user) == {"phone": sha256("+442079460958")}


def test_an_unparseable_phone_is_dropped_with_a_warning() -> None:
    ids = [
        {"identity_type": "mobile_number", "identity": "call me"},
        {"identity_type": "email", "identity": EMAIL},
    ]
    result = run(batch(commerce(), user_identities=ids))
    assert identifiers(payload_at(result)["user"]) == {"email": sha256(EMAIL)}
    assert result.warnings["invalid_phone"] == 1


def test_pre_hashed_identities_pass_through_lower_cased() -> None:
    digest = sha256(EMAIL)
    ids = [
        {"identity_type": "email", "identity": digest.upper()},
        {"identity_type": "customer_id", "identity": digest},
    ]
    user = single(batch(commerce(), user_identities=ids))["user"]
    assert identifiers(user) == {"email": digest, "external_id": digest}


@pytest.mark.parametrize(
    "ids",
    [
        [],
        None,
        {},
        [{"identity_type": "other_id_3", "identity": "loyalty-7"}],
        [{"identity_type": "mobile_number", "identity": "not a number"}],
        [{"identity_type": "email", "identity": "   "}],
    ],
)
def test_a_user_without_any_of_the_three_identifiers_is_skipped(ids: object) -> None:
    result = run(batch(commerce(), commerce("add_to_cart"), user_identities=ids))
    assert result.mapped == []
    assert result.skipped == {"no_identifiers": 2}


@pytest.mark.parametrize(
    ("identity_type", "identifier"),
    [("email", "email"), ("customer_id", "external_id"), ("mobile_number", "phone")],
)
def test_any_one_identifier_is_enough(identity_type: str, identifier: str) -> None:
    value = {"email": EMAIL, "customer_id": "CUST-10042", "mobile_number": "+14155550123"}[identity_type]
    user = single(batch(commerce(), user_identities=[{"identity_type": identity_type, "identity": value}]))[
        "user"
    ]
    assert list(identifiers(user)) == [identifier]


# --- skip reasons and their order ------------------------------------------------------------------------

NO_URL: JsonObject = {}


@pytest.mark.parametrize(
    ("event", "identities", "reason"),
    [
        # invalid + unsupported + no identifiers + no URL
        ({"event_type": "commerce_event", "data": {"product_action": "refund"}}, [], "invalid_event"),
        ("not an object", [], "invalid_event"),
        # unsupported + no identifiers + no URL
        (commerce("refund", custom_flags=NO_URL), [], "unsupported_event"),
        ({"event_type": "custom_event", "data": {"event_name": "x"}}, [], "unsupported_event"),
        # no identifiers + no URL
        (commerce("purchase", custom_flags=NO_URL), [], "no_identifiers"),
        # only the URL is wrong
        (commerce("purchase", custom_flags={"TikTok.URL": "shop.example.com"}), None, "invalid_page_url"),
    ],
)
def test_skip_reasons_first_match_wins(event: object, identities: object, reason: str) -> None:
    fields = {} if identities is None else {"user_identities": identities}
    result = run(batch(event, **fields))
    assert result.mapped == []
    assert result.skipped == {reason: 1}


def test_a_malformed_event_does_not_stop_the_others() -> None:
    result = run(
        batch(commerce("add_to_cart"), "junk", {"event_type": "commerce_event"}, commerce("checkout"))
    )
    assert [m.payload["event"] for m in result.mapped] == ["AddToCart", "InitiateCheckout"]
    assert result.skipped == {"invalid_event": 2}


def test_every_received_event_is_mapped_or_skipped() -> None:
    document = [
        batch(commerce("purchase"), commerce("refund"), commerce("view_detail", custom_flags={})),
        batch(commerce("add_to_cart"), user_identities=[]),
        batch(),
        {"mpid": 1},
    ]
    result = run(document)
    assert result.received == 4
    assert len(result.mapped) == 1
    assert result.skipped == {"unsupported_event": 1, "invalid_page_url": 1, "no_identifiers": 1}
    assert result.received == len(result.mapped) + sum(result.skipped.values())


# --- 4. requests -----------------------------------------------------------------------------------------


def mapped_events(count: int) -> list[MappedEvent]:
    return [
        MappedEvent(payload={"event": "AddToCart", "event_id": str(i)}, source=SourceRef(event_id=str(i)))
        for i in range(count)
    ]


def test_build_requests_splits_into_the_fewest_requests_of_at_most_1000() -> None:
    requests = build_requests(mapped_events(2500), "PIXEL")
    assert [len(r.body["data"]) for r in requests] == [1000, 1000, 500]  # type: ignore[arg-type]
    assert [r.event_count for r in requests] == [1000, 1000, 500]
    ids = [event["event_id"] for r in requests for event in r.body["data"]]  # type: ignore[attr-defined]
    assert ids == [str(i) for i in range(2500)]
    assert [s.event_id for r in requests for s in r.sources] == ids


@pytest.mark.parametrize(("count", "sizes"), [(0, []), (1, [1]), (1000, [1000]), (1001, [1000, 1])])
def test_build_requests_boundaries(count: int, sizes: list[int]) -> None:
    assert [r.event_count for r in build_requests(mapped_events(count), "PIXEL")] == sizes


def test_test_event_code_is_top_level_only_when_set() -> None:
    with_code = build_requests(mapped_events(1), "PIXEL", "TEST123")[0].body
    assert with_code == {
        "event_source": "web",
        "event_source_id": "PIXEL",
        "test_event_code": "TEST123",
        "data": [{"event": "AddToCart", "event_id": "0"}],
    }
    assert "test_event_code" not in with_code["data"][0]  # type: ignore[index]
    for absent in (None, ""):
        body = build_requests(mapped_events(1), "PIXEL", absent)[0].body
        assert body == {
            "event_source": "web",
            "event_source_id": "PIXEL",
            "data": [{"event": "AddToCart", "event_id": "0"}],
        }


@pytest.mark.parametrize("document", [{"mpid": 1}, {"events": None}, {"events": []}, []])
def test_a_batch_without_events_receives_zero(document: object) -> None:
    result = run(document)
    assert (result.received, result.mapped, dict(result.skipped)) == (0, [], {})


# --- privacy in page URLs --------------------------------------------------------------------------


def test_email_parameters_are_removed_from_page_url_and_referrer_and_counted() -> None:
    flags = {
        "TikTok.URL": "https://shop.example.com/thanks?order=7&email=jane.doe%40example.com",
        "TikTok.Referrer": "https://shop.example.com/signup?e=jane.doe@example.com#form",
    }

    result = run(batch(commerce(custom_flags=flags)))

    assert payload_at(result)["page"] == {
        "url": "https://shop.example.com/thanks?order=7",
        "referrer": "https://shop.example.com/signup#form",
    }
    assert result.warnings["email_removed_from_url"] == 2
    assert "example.com&" not in json.dumps(payload_at(result)) and "%40" not in json.dumps(
        payload_at(result)
    )


def test_a_skipped_event_counts_no_email_removal() -> None:
    flags = {"TikTok.URL": "https://shop.example.com/?email=jane.doe%40example.com"}

    result = run(batch(commerce("refund", custom_flags=flags)))

    assert (dict(result.skipped), dict(result.warnings)) == ({"unsupported_event": 1}, {})


# --- typed once: the parser's warnings count when the event is forwarded ----------------------------------


def test_unreadable_values_count_only_for_forwarded_events() -> None:
    bad = {"products": [{"id": "A", "price": "free", "quantity": "many"}], "total_amount": "lots"}
    forwarded = with_action(commerce("purchase"), **bad)
    skipped = with_action(commerce("refund"), **bad)

    result = run(batch(forwarded, skipped, commerce(timestamp_unixtime_ms=5)))

    assert dict(result.warnings) == {
        "invalid_price": 1,
        "invalid_quantity": 1,
        "invalid_value": 1,
        "invalid_timestamp": 1,
    }
    assert payload_at(result)["properties"]["contents"] == [{"content_id": "A"}]


@pytest.mark.parametrize("name", ["TikTok.URL", "tiktok.url", "TIKTOK.URL"])
def test_flag_names_are_case_insensitive(name: str) -> None:
    assert single(batch(commerce(custom_flags={name: URL})))["page"] == {"url": URL}


@pytest.mark.parametrize(
    "identities",
    [{"customer_id": 123456}, [{"identity_type": "customer_id", "identity": 123456}]],
    ids=["inbound object", "outbound list"],
)
def test_an_identity_sent_as_a_json_number_hashes_its_decimal_string(identities: object) -> None:
    user = single(batch(commerce(), user_identities=identities))["user"]

    assert identifiers(user) == {"external_id": sha256("123456")}

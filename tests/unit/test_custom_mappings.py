"""Custom mappings: validation naming the entry, matching, and the properties they produce."""

import json
from typing import Any

import pytest

from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping.custom import (
    CustomMapping,
    PropertySource,
    find_custom_mapping,
    parse_custom_mappings,
)
from tiktok_connector.mapping.mapper import MappingResult, map_batches
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.mapping.vocabulary import EVENT_PROPERTIES
from tiktok_connector.model.events import Event
from tiktok_connector.platform.errors import ConfigurationError

JsonObject = dict[str, Any]
URL = "https://shop.example.com/p"
ITEM_AND_VALUE = {"price", "quantity", "currency", "value", "content_id", "content_name", "content_category"}
# mParticle's TikTok integration document: its "Custom Event Mappings" list (plus `description`,
# which every event takes), written out here
# so that a change to the vocabulary fails this test instead of following it.
INTEGRATION_EVENT_PROPERTIES = {
    "AddPaymentInfo": ITEM_AND_VALUE,
    "AddToCart": ITEM_AND_VALUE,
    "AddToWishlist": ITEM_AND_VALUE,
    "ClickButton": set(),
    "CompletePayment": ITEM_AND_VALUE,
    "Contact": set(),
    "Download": set(),
    "InitiateCheckout": ITEM_AND_VALUE,
    "PlaceAnOrder": ITEM_AND_VALUE,
    "Search": {"query"},
    "Subscribe": {"currency", "value"},
    "ViewContent": ITEM_AND_VALUE,
}
ALL_PROPERTY_NAMES = sorted(ITEM_AND_VALUE | {"description", "query", "content_type", "order_id", "colour"})

DOCUMENTED_EXAMPLE: JsonObject = {
    "match": {
        "event_type": "custom_event",
        "event_name": "Payment Info Added",
        "custom_event_type": "transaction",
        "attributes": {"plan": "pro"},
    },
    "tiktok_event": "AddPaymentInfo",
    "properties": {
        "value": {"attribute": "amount"},
        "currency": {"static": "USD"},
        "description": {"attribute": "note"},
    },
}


def mappings(*entries: object) -> tuple[CustomMapping, ...]:
    return parse_custom_mappings(json.dumps(list(entries)))


def entry(tiktok_event: str = "Contact", properties: JsonObject | None = None, **match: Any) -> JsonObject:
    result: JsonObject = {"match": {"event_type": "custom_event", **match}, "tiktok_event": tiktok_event}
    if properties is not None:
        result["properties"] = properties
    return result


def custom_event(
    name: str = "Payment Info Added", event_type: str = "transaction", **attributes: Any
) -> JsonObject:
    return {
        "event_type": "custom_event",
        "data": {
            "event_name": name,
            "custom_event_type": event_type,
            "custom_attributes": attributes,
            "custom_flags": {"TikTok.URL": URL},
            "source_message_id": "6c47c406-2097-4360-84e3-6f02e696dbf5",
            "timestamp_unixtime_ms": 1741953980400,
        },
    }


def commerce(action: str = "purchase", **attributes: Any) -> JsonObject:
    return {
        "event_type": "commerce_event",
        "data": {
            "product_action": {
                "action": action,
                "transaction_id": "ORD-1",
                "total_amount": 74.5,
                "products": [
                    {"id": "1077218", "name": "Shoe", "category": "apparel", "price": 25.0, "quantity": 2}
                ],
            },
            "currency_code": "USD",
            "custom_attributes": attributes,
            "custom_flags": {"TikTok.URL": URL},
            "event_id": 1,
        },
    }


def screen_view(name: str) -> JsonObject:
    return {"event_type": "screen_view", "data": {"screen_name": name, "custom_flags": {"TikTok.URL": URL}}}


def run(entries: list[JsonObject], *events: JsonObject) -> MappingResult:
    document = {
        "events": list(events),
        "user_identities": [{"identity_type": "customer_id", "identity": "CUST-10042"}],
        "ip": "203.0.113.24",
        "device_info": {"http_header_user_agent": "Mozilla/5.0"},
    }
    settings = MappingSettings(custom_mappings=mappings(*entries), content_type="product_group")
    return map_batches(parse_webhook_body(json.dumps(document).encode()), settings)


def mapped_event(entries: list[JsonObject], event: JsonObject) -> tuple[JsonObject, MappingResult]:
    result = run(entries, event)
    assert not result.skipped, result.skipped
    assert len(result.mapped) == 1
    return result.mapped[0].payload, result


def parse_event(event: JsonObject) -> Event:
    return parse_webhook_body(json.dumps({"events": [event]}).encode())[0].events[0]


# --- parsing ------------------------------------------------------------------------------------------


def test_the_spec_example_parses_to_this_mapping() -> None:
    assert mappings(DOCUMENTED_EXAMPLE) == (
        CustomMapping(
            event_type="custom_event",
            tiktok_event="AddPaymentInfo",
            event_name="Payment Info Added",
            custom_event_type="transaction",
            attributes=(("plan", "pro"),),
            properties=(
                ("value", PropertySource(attribute="amount")),
                ("currency", PropertySource(static="USD")),
                ("description", PropertySource(attribute="note")),
            ),
        ),
    )


@pytest.mark.parametrize("text", ["", "   ", "[]"])
def test_no_custom_mappings(text: str) -> None:
    assert parse_custom_mappings(text) == ()


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("value", "12.50", 12.5),
        ("value", 99, 99),
        ("price", "25", 25),
        ("quantity", "3", 3),
        ("quantity", 2.0, 2),
        ("content_id", 1077218, "1077218"),
        ("currency", "eur", "EUR"),
        ("description", "Saved card", "Saved card"),
    ],
)
def test_static_values_are_converted_to_tiktok_types(name: str, raw: object, expected: object) -> None:
    (mapping,) = mappings(entry("AddPaymentInfo", {name: {"static": raw}}))
    (_, source), *_ = mapping.properties
    assert source.static == expected
    assert type(source.static) is type(expected)


def test_the_vocabulary_has_the_integration_documents_events_and_properties() -> None:
    for event, allowed in INTEGRATION_EVENT_PROPERTIES.items():
        assert EVENT_PROPERTIES[event] == allowed | {"description"}, event


@pytest.mark.parametrize(
    "event", ["Purchase", "CompleteRegistration", "SubmitForm", "Lead", "Subscribe", "ClickButton"]
)
def test_newer_standard_names_are_accepted(event: str) -> None:
    (mapping,) = mappings(entry(event, {"description": {"static": "x"}}))
    assert mapping.tiktok_event == event


def test_purchase_takes_the_same_properties_as_complete_payment() -> None:
    assert EVENT_PROPERTIES["Purchase"] == EVENT_PROPERTIES["CompletePayment"]


@pytest.mark.parametrize("event", sorted(EVENT_PROPERTIES))
def test_every_allowed_property_is_accepted(event: str) -> None:
    allowed = sorted(EVENT_PROPERTIES[event])
    assert "description" in allowed
    (mapping,) = mappings(entry(event, {name: {"attribute": f"attr_{name}"} for name in allowed}))
    assert [name for name, _ in mapping.properties] == allowed


@pytest.mark.parametrize(
    ("event", "name"),
    [
        (event, name)
        for event in sorted(EVENT_PROPERTIES)
        for name in ALL_PROPERTY_NAMES
        if name not in EVENT_PROPERTIES[event]
    ],
)
def test_a_disallowed_property_raises_naming_the_entry(event: str, name: str) -> None:
    bad = entry(event, {"description": {"static": "ok"}, name: {"attribute": "x"}})
    with pytest.raises(ConfigurationError, match=rf"CUSTOM_MAPPINGS\[1\]\.properties\.{name}\b"):
        mappings(entry(), bad)


@pytest.mark.parametrize(
    ("bad_entry", "hint"),
    [
        # unknown TikTok event
        (entry("AddToBasket"), "unknown TikTok event"),
        (entry("addtocart"), "unknown TikTok event"),
        ({"match": {"event_type": "custom_event"}}, "tiktok_event"),
        ({"match": {"event_type": "custom_event"}, "tiktok_event": ["Contact"]}, "tiktok_event"),
        # unknown property
        (entry("Search", {"value": {"attribute": "x"}}), "properties.value"),
        (entry("Contact", {"colour": {"static": "red"}}), "properties.colour"),
        # bad event_type
        ({"match": {"event_type": "user_attribute_change"}, "tiktok_event": "Contact"}, "event_type"),
        ({"match": {"event_type": "Custom_Event"}, "tiktok_event": "Contact"}, "event_type"),
        ({"match": {}, "tiktok_event": "Contact"}, "event_type"),
        ({"match": {"event_type": ["custom_event"]}, "tiktok_event": "Contact"}, "event_type"),
        ({"match": {"event_type": {"x": 1}}, "tiktok_event": "Contact"}, "event_type"),
        # malformed entry
        ({"tiktok_event": "Contact"}, "match"),
        ({"match": "custom_event", "tiktok_event": "Contact"}, "match"),
        ({"match": {"event_type": "custom_event", "name": "x"}, "tiktok_event": "Contact"}, "unknown key"),
        ({**entry(), "extra": 1}, "unknown key"),
        (entry("Contact", properties=["description"]), "properties"),  # type: ignore[arg-type]
        (entry("Contact", {"description": "text"}), "properties.description"),
        (entry("Contact", {"description": {}}), "properties.description"),
        (entry("Contact", {"description": {"attribute": "a", "static": "b"}}), "properties.description"),
        (entry("Contact", {"description": {"column": "a"}}), "properties.description"),
        (entry("Contact", {"description": {"attribute": ""}}), "properties.description.attribute"),
        (entry("Contact", {"description": {"attribute": 5}}), "properties.description.attribute"),
        (entry("Contact", event_name=""), "event_name"),
        (entry("Contact", event_name=5), "event_name"),
        (entry("Contact", custom_event_type="checkout"), "custom_event_type"),
        (entry("Contact", product_action="purchase"), "product_action"),
        (
            {"match": {"event_type": "commerce_event", "product_action": "buy"}, "tiktok_event": "Contact"},
            "product_action",
        ),
        (
            {"match": {"event_type": "commerce_event", "event_name": "x"}, "tiktok_event": "Contact"},
            "event_name",
        ),
        (
            {
                "match": {"event_type": "screen_view", "custom_event_type": "navigation"},
                "tiktok_event": "Contact",
            },
            "custom_event_type",
        ),
        (entry("Contact", attributes=["plan"]), "attributes"),
        (entry("Contact", attributes={"plan": {"x": 1}}), "attributes.plan"),
        (entry("Contact", attributes={"plan": None}), "attributes.plan"),
        # non-object entry
        ("Contact", "must be an object"),
        (["Contact"], "must be an object"),
        (None, "must be an object"),
        (3, "must be an object"),
        # bad static value
        (entry("AddToCart", {"value": {"static": "abc"}}), "properties.value.static"),
        (entry("AddToCart", {"value": {"static": None}}), "properties.value.static"),
        (entry("AddToCart", {"value": {"static": True}}), "properties.value.static"),
        (entry("AddToCart", {"price": {"static": [1]}}), "properties.price.static"),
        (entry("AddToCart", {"quantity": {"static": 2.5}}), "properties.quantity.static"),
        (entry("AddToCart", {"quantity": {"static": "two"}}), "properties.quantity.static"),
        (entry("AddToCart", {"currency": {"static": "XYZ"}}), "properties.currency.static"),
        (entry("AddToCart", {"currency": {"static": 840}}), "properties.currency.static"),
        (entry("AddToCart", {"content_id": {"static": {"id": 1}}}), "properties.content_id.static"),
        (entry("Contact", {"description": {"static": False}}), "properties.description.static"),
        (entry("Search", {"query": {"static": ""}}), "properties.query.static"),
    ],
)
def test_an_invalid_entry_raises_naming_it(bad_entry: object, hint: str) -> None:
    # The bad entry is the third: the message must name that index, not the first or "an entry".
    with pytest.raises(ConfigurationError) as raised:
        mappings(entry(), DOCUMENTED_EXAMPLE, bad_entry)
    message = str(raised.value)
    assert "CUSTOM_MAPPINGS[2]" in message
    assert hint in message


VALID_ENTRY = '{"match": {"event_type": "custom_event"}, "tiktok_event": "Contact"}'


@pytest.mark.parametrize(
    ("text", "entry_named"),
    [
        ("[{", "CUSTOM_MAPPINGS[0]"),
        (f"[{VALID_ENTRY}, {VALID_ENTRY[:-1]},}}]", "CUSTOM_MAPPINGS[1]"),  # trailing comma in entry 1
        (f"[\n  {VALID_ENTRY},\n  {VALID_ENTRY},\n  {{'match': {{}}}}\n]", "CUSTOM_MAPPINGS[2]"),
        (f"[{VALID_ENTRY} {VALID_ENTRY}]", "CUSTOM_MAPPINGS[0]"),  # missing comma after entry 0
        (f"[{VALID_ENTRY},]", "CUSTOM_MAPPINGS[1]"),
        ("not json", None),
        ("{'match': {}}", None),
        ("[] trailing", None),
    ],
)
def test_malformed_json_raises_naming_the_entry_it_is_in(text: str, entry_named: str | None) -> None:
    with pytest.raises(ConfigurationError, match=r"^CUSTOM_MAPPINGS is not valid JSON") as raised:
        parse_custom_mappings(text)
    message = str(raised.value)
    if entry_named is None:
        assert "CUSTOM_MAPPINGS[" not in message
    else:
        assert f"(in {entry_named})" in message


@pytest.mark.parametrize("text", ['{"match": {}}', '"AddToCart"', "3", "null"])
def test_a_document_that_is_not_an_array_raises(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"CUSTOM_MAPPINGS must be a JSON array"):
        parse_custom_mappings(text)


# --- matching -----------------------------------------------------------------------------------------


def test_event_name_matches_a_custom_events_name_exactly() -> None:
    (mapping,) = mappings(entry(event_name="Payment Info Added"))
    assert mapping.matches(parse_event(custom_event("Payment Info Added")))
    assert not mapping.matches(parse_event(custom_event("payment info added")))
    assert not mapping.matches(parse_event(custom_event("Payment Info Added ")))
    assert not mapping.matches(parse_event(screen_view("Payment Info Added")))


def test_event_name_matches_a_screen_views_screen_name() -> None:
    (mapping,) = mappings(
        {"match": {"event_type": "screen_view", "event_name": "Checkout"}, "tiktok_event": "Contact"}
    )
    assert mapping.matches(parse_event(screen_view("Checkout")))
    assert not mapping.matches(parse_event(screen_view("Cart")))
    assert not mapping.matches(parse_event(custom_event("Checkout")))


def test_product_action_matches_a_commerce_events_action() -> None:
    (mapping,) = mappings(
        {"match": {"event_type": "commerce_event", "product_action": "refund"}, "tiktok_event": "Contact"}
    )
    assert mapping.matches(parse_event(commerce("refund")))
    assert not mapping.matches(parse_event(commerce("purchase")))
    assert not mapping.matches(parse_event(custom_event("refund")))


def test_custom_event_type_narrows() -> None:
    (mapping,) = mappings(entry(event_name="Signup", custom_event_type="user_preference"))
    assert mapping.matches(parse_event(custom_event("Signup", "user_preference")))
    assert not mapping.matches(parse_event(custom_event("Signup", "other")))


def test_an_event_type_alone_matches_every_event_of_that_type() -> None:
    (mapping,) = mappings(entry())
    assert mapping.matches(parse_event(custom_event("Anything", "other")))
    assert not mapping.matches(parse_event(commerce()))


@pytest.mark.parametrize(
    ("configured", "sent", "matches"),
    [
        ("pro", "pro", True),
        ("pro", "Pro", False),
        (10, "10", True),
        ("10", 10, True),
        (2.5, "2.5", True),
        (True, "true", True),
        ("true", True, True),
        (False, "true", False),
        ("10", "10.0", False),
    ],
)
def test_attributes_are_compared_as_strings(configured: object, sent: object, matches: bool) -> None:
    (mapping,) = mappings(entry(attributes={"plan": configured}))
    assert mapping.matches(parse_event(custom_event(plan=sent))) is matches


def test_every_listed_attribute_must_be_present_and_equal() -> None:
    (mapping,) = mappings(entry(attributes={"plan": "pro", "seats": 5}))
    assert mapping.matches(parse_event(custom_event(plan="pro", seats="5", extra="ignored")))
    assert not mapping.matches(parse_event(custom_event(plan="pro")))
    assert not mapping.matches(parse_event(custom_event(plan="pro", seats="6")))


def test_the_first_matching_mapping_wins() -> None:
    ordered = mappings(
        entry("Download", event_name="Other"),
        entry("Contact", attributes={"plan": "pro"}),
        entry("ClickButton", event_name="Payment Info Added"),
    )
    first = find_custom_mapping(ordered, parse_event(custom_event(plan="pro")))
    assert first is not None
    assert first.tiktok_event == "Contact"
    second = find_custom_mapping(ordered, parse_event(custom_event(plan="basic")))
    assert second is not None
    assert second.tiktok_event == "ClickButton"
    assert find_custom_mapping(ordered, parse_event(custom_event("Unmapped"))) is None


def test_a_custom_mapping_forwards_an_otherwise_unsupported_event() -> None:
    refund = {
        "match": {"event_type": "commerce_event", "product_action": "refund"},
        "tiktok_event": "Contact",
    }
    assert run([], commerce("refund")).skipped == {"unsupported_event": 1}
    payload, _ = mapped_event([refund], commerce("refund"))
    assert payload["event"] == "Contact"


def test_an_unmatched_custom_event_is_unsupported() -> None:
    result = run([DOCUMENTED_EXAMPLE], custom_event("Payment Info Added", plan="basic"))
    assert result.mapped == []
    assert result.skipped == {"unsupported_event": 1}


# --- properties --------------------------------------------------------------------------------------


def test_the_spec_example_end_to_end() -> None:
    event = custom_event("Payment Info Added", "transaction", plan="pro", amount="12.50", note="Saved card")
    payload, result = mapped_event([DOCUMENTED_EXAMPLE], event)
    assert payload["event"] == "AddPaymentInfo"
    assert payload["event_id"] == "6c47c406-2097-4360-84e3-6f02e696dbf5"
    assert payload["event_time"] == 1741953980
    assert payload["page"] == {"url": URL}
    assert payload["properties"] == {"value": 12.5, "currency": "USD", "description": "Saved card"}
    assert not result.warnings


def test_a_missing_attribute_leaves_its_property_out() -> None:
    event = custom_event("Payment Info Added", "transaction", plan="pro")
    payload, _ = mapped_event([DOCUMENTED_EXAMPLE], event)
    assert payload["properties"] == {"currency": "USD"}


def test_a_mapping_without_properties_sends_none() -> None:
    payload, _ = mapped_event([entry("Contact")], custom_event())
    assert "properties" not in payload


def test_search_query_from_an_attribute() -> None:
    search = entry("Search", {"query": {"attribute": "search_term"}}, event_name="Site Search")
    payload, _ = mapped_event([search], custom_event("Site Search", "search", search_term="trail shoes"))
    assert payload["properties"] == {"query": "trail shoes"}


def test_item_properties_form_one_contents_item() -> None:
    add = entry(
        "AddToCart",
        {
            "content_id": {"attribute": "sku"},
            "content_name": {"attribute": "title"},
            "content_category": {"static": "apparel"},
            "price": {"attribute": "unit_price"},
            "quantity": {"attribute": "qty"},
            "value": {"attribute": "total"},
            "currency": {"attribute": "cur"},
        },
        event_name="Add",
    )
    event = custom_event(
        "Add", "transaction", sku=1077218, title="Shoe", unit_price="25", qty="2", total=50, cur="usd"
    )
    payload, result = mapped_event([add], event)
    assert payload["properties"] == {
        "contents": [
            {
                "content_id": "1077218",
                "content_name": "Shoe",
                "content_category": "apparel",
                "price": 25,
                "quantity": 2,
            }
        ],
        "content_ids": ["1077218"],
        "content_type": "product_group",
        "value": 50,
        "currency": "USD",
    }
    assert not result.warnings


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("value", "lots"),
        ("price", "free"),
        ("quantity", "2.5"),
        ("quantity", 1.5),
        ("value", True),
        ("content_id", {"a": 1}),
    ],
)
def test_an_attribute_that_cannot_be_converted_is_dropped_and_counted(name: str, raw: object) -> None:
    mapping = entry("AddToCart", {name: {"attribute": "a"}, "description": {"static": "kept"}})
    payload, result = mapped_event([mapping], custom_event(a=raw))
    assert payload["properties"] == {"description": "kept"}
    assert result.warnings["invalid_property"] == 1


def test_an_unsupported_mapped_currency_drops_currency_and_value() -> None:
    mapping = entry("Subscribe", {"value": {"attribute": "amount"}, "currency": {"attribute": "cur"}})
    payload, result = mapped_event([mapping], custom_event(amount="9.99", cur="XYZ"))
    assert "properties" not in payload
    assert result.warnings["unsupported_currency"] == 1


def test_a_matched_commerce_event_keeps_native_properties_with_mapped_ones_overriding() -> None:
    mapping = {
        "match": {"event_type": "commerce_event", "product_action": "purchase"},
        "tiktok_event": "CompletePayment",
        "properties": {"value": {"static": 99}, "description": {"attribute": "note"}},
    }
    payload, _ = mapped_event([mapping], commerce("purchase", note="first order"))
    assert payload["event"] == "CompletePayment"
    assert payload["properties"] == {
        "contents": [
            {
                "price": 25.0,
                "quantity": 2,
                "content_id": "1077218",
                "content_category": "apparel",
                "content_name": "Shoe",
            }
        ],
        "content_ids": ["1077218"],
        "content_type": "product_group",
        "currency": "USD",
        "value": 99,
        "order_id": "ORD-1",
        "description": "first order",
    }


def test_mapped_currency_overrides_native_currency_and_keeps_native_value() -> None:
    mapping = {
        "match": {"event_type": "commerce_event", "product_action": "add_to_cart"},
        "tiktok_event": "AddToCart",
        "properties": {"currency": {"static": "EUR"}},
    }
    payload, _ = mapped_event([mapping], commerce("add_to_cart"))
    assert payload["properties"]["currency"] == "EUR"
    assert payload["properties"]["value"] == 74.5


def test_mapped_item_properties_replace_the_native_contents() -> None:
    mapping = {
        "match": {"event_type": "commerce_event", "product_action": "view_detail"},
        "tiktok_event": "ViewContent",
        "properties": {"content_id": {"attribute": "sku"}},
    }
    payload, _ = mapped_event([mapping], commerce("view_detail", sku="SKU-9"))
    assert payload["properties"]["contents"] == [{"content_id": "SKU-9"}]
    assert payload["properties"]["content_ids"] == ["SKU-9"]  # the ids follow the items
    assert payload["properties"]["currency"] == "USD"


def test_mapped_items_without_a_content_id_drop_the_native_content_ids() -> None:
    mapping = {
        "match": {"event_type": "commerce_event", "product_action": "view_detail"},
        "tiktok_event": "ViewContent",
        "properties": {"content_name": {"static": "Gift card"}},
    }
    payload, _ = mapped_event([mapping], commerce("view_detail"))
    assert payload["properties"]["contents"] == [{"content_name": "Gift card"}]
    assert "content_ids" not in payload["properties"]


def test_a_matched_commerce_event_without_mapped_properties_keeps_all_native_ones() -> None:
    mapping = {
        "match": {"event_type": "commerce_event", "product_action": "purchase"},
        "tiktok_event": "Purchase",
    }
    payload, _ = mapped_event([mapping], commerce("purchase"))
    assert payload["event"] == "Purchase"
    assert payload["properties"]["order_id"] == "ORD-1"
    assert payload["properties"]["value"] == 74.5


def test_an_unsupported_mapped_currency_also_drops_the_native_value() -> None:
    mapping = {
        "match": {"event_type": "commerce_event", "product_action": "purchase"},
        "tiktok_event": "PlaceAnOrder",
        "properties": {"currency": {"attribute": "paid_in"}},
    }
    payload, result = mapped_event([mapping], commerce("purchase", paid_in="XYZ"))
    assert "currency" not in payload["properties"]
    assert "value" not in payload["properties"]
    assert payload["properties"]["order_id"] == "ORD-1"
    assert result.warnings["unsupported_currency"] == 1

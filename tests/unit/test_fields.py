"""The field tables: one test row per TikTok field, sent through both routes, and the generated docs.

Adding a field to `mapping/fields.py` means adding its row to `FIELD_CASES` here: the coverage test fails
until every field of the tables has one.
"""

import copy
import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tiktok_connector.inbound.firehose import parse_event_processing_request
from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping import fields as tables
from tiktok_connector.mapping.field_types import Field, Scope, user_attribute
from tiktok_connector.mapping.mapper import MappingResult, map_batches
from tiktok_connector.mapping.plans import BATCH_PLAN, EVENT_PLAN, PLANS_BY_TYPE
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.model.events import Batch, Event, Product

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mapping-fields.md"
URL = "https://shop.example.com/p/1077218"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def webhook_batch() -> dict[str, Any]:
    """One purchase with every source the tables read, as the Webhook sends it."""
    return {
        "events": [
            {
                "event_type": "commerce_event",
                "data": {
                    "product_action": {
                        "action": "purchase",
                        "transaction_id": "ORD-1",
                        "total_amount": 50.0,
                        "products": [
                            {
                                "id": "SKU-1",
                                "name": "Shoe",
                                "category": "apparel",
                                "price": 25.0,
                                "quantity": 2,
                            }
                        ],
                    },
                    "currency_code": "USD",
                    "custom_flags": {"TikTok.URL": URL},
                    "source_message_id": "msg-1",
                    "event_id": 7,
                    "timestamp_unixtime_ms": 1741954212345,
                },
            }
        ],
        "user_identities": [{"identity_type": "email", "identity": "jane.doe@example.com"}],
        "ip": "203.0.113.24",
        "device_info": {"http_header_user_agent": "Mozilla/5.0"},
        "timestamp_unixtime_ms": 1741954213001,
    }


def firehose_request() -> dict[str, Any]:
    """The same purchase as a Firehose `event_processing_request`."""
    return {
        "type": "event_processing_request",
        "id": "request-1",
        "timestamp_ms": 1741954213001,
        "account": {"account_settings": {"pixelId": "PIXEL"}},
        "user_identities": [{"type": "email", "encoding": "raw", "value": "jane.doe@example.com"}],
        "runtime_environment": {"client_ip_address": "203.0.113.24", "http_header_user_agent": "Mozilla/5.0"},
        "events": [
            {
                "type": "product_action",
                "id": "server-uuid-1",
                "source_id": "msg-1",
                "timestamp_ms": 1741954212345,
                "action": "purchase",
                "transaction_id": "ORD-1",
                "total_amount": 50.0,
                "currency_code": "USD",
                "products": [
                    {"id": "SKU-1", "name": "Shoe", "category": "apparel", "price": 25.0, "quantity": 2}
                ],
                "custom_flags": {"TikTok.URL": URL},
            }
        ],
    }


def merge(document: dict[str, Any], changes: dict[str, Any]) -> None:
    """Deep-merge `changes` into `document`; a value of None removes the key."""
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        elif isinstance(value, dict) and isinstance(document.get(key), dict):
            merge(document[key], value)
        else:
            document[key] = value


@dataclasses.dataclass(frozen=True)
class FieldCase:
    """One TikTok field: what each route sends for it, and what TikTok receives."""

    tiktok: str
    """The field as the tables name it (`properties.contents[].price`)."""
    webhook: dict[str, Any]
    """Merged into the Webhook batch: `batch` keys, `data` of its event, `product` its first product."""
    firehose: dict[str, Any]
    """Merged into the Firehose request: `request` keys, `event` its event, `product` its first product."""
    expected: object
    settings: MappingSettings = dataclasses.field(default_factory=MappingSettings)


FIELD_CASES = [
    FieldCase("event", {}, {}, "PlaceAnOrder"),
    FieldCase(
        "event_time",
        {"data": {"timestamp_unixtime_ms": "1741954299999"}},
        {"event": {"timestamp_ms": 1741954299999}},
        1741954299,
    ),
    FieldCase("event_id", {"data": {"source_message_id": "c-77"}}, {"event": {"source_id": "c-77"}}, "c-77"),
    FieldCase(
        "limited_data_use",
        {"batch": {"consent_state": {"ccpa": {"data_sale_opt_out": {"consented": True}}}}},
        {"request": {"consent_state": {"ccpa_consent_state": {"data_sale_opt_out": {"consented": True}}}}},
        True,
    ),
    FieldCase(
        "user.email",
        {"batch": {"user_identities": {"email": " Jane.Doe@Example.com "}}},
        {"request": {"user_identities": [{"type": "email", "value": " Jane.Doe@Example.com "}]}},
        sha256("jane.doe@example.com"),
    ),
    FieldCase(
        "user.phone",
        {"batch": {"user_identities": {"mobile_number": "(415) 555-0123"}}},
        {"request": {"user_identities": [{"type": "mobile_number", "value": "(415) 555-0123"}]}},
        sha256("+14155550123"),
    ),
    FieldCase(
        "user.external_id",
        {"batch": {"user_identities": {"other_id_2": 123456}}},
        {"request": {"user_identities": [{"type": "other2", "value": 123456}]}},
        sha256("123456"),
        MappingSettings(external_identity_type="other_id_2"),
    ),
    FieldCase(
        "user.ip",
        {"batch": {"ip": "2001:db8::1"}},
        {"request": {"runtime_environment": {"client_ip_address": "2001:db8::1"}}},
        "2001:db8::1",
    ),
    FieldCase(
        "user.user_agent",
        {"batch": {"device_info": {"http_header_user_agent": "UA/2"}}},
        {"request": {"runtime_environment": {"http_header_user_agent": "UA/2"}}},
        "UA/2",
    ),
    FieldCase(
        "user.ttclid",
        {"data": {"custom_flags": {"tiktok.callback": ["E.C.P.abc"]}}},
        {"event": {"custom_flags": {"TikTok.Callback": "E.C.P.abc"}}},
        "E.C.P.abc",
    ),
    FieldCase(
        "user.ttp",
        {"data": {"custom_flags": {"TikTok.TTP": " 2F7h37YkS1j57AYSKTI7IHhJPYH "}}},
        {"event": {"custom_flags": {"tiktok.ttp": ["2F7h37YkS1j57AYSKTI7IHhJPYH"]}}},
        "2F7h37YkS1j57AYSKTI7IHhJPYH",
    ),
    FieldCase(
        "user.locale",
        {"batch": {"device_info": {"locale_language": "en", "locale_country": "US"}}},
        {"request": {"runtime_environment": {"locale_language": "en", "locale_country": "en_US"}}},
        "en-US",
    ),
    FieldCase(
        "user.first_name",
        {"batch": {"user_attributes": {"$FirstName": " Mary Ann "}}},
        {"request": {"user_attributes": {"$firstname": "Mary Ann"}}},
        sha256("maryann"),
    ),
    FieldCase(
        "user.last_name",
        {"batch": {"user_attributes": {"$LastName": "O'Brian"}}},
        {"request": {"user_attributes": {"$LastName": "O'BRIAN"}}},
        sha256("o'brian"),
    ),
    FieldCase(
        "user.zip_code",
        {"batch": {"user_attributes": {"$Zip": "SW1A 1AA"}}},
        {"request": {"user_attributes": {"$zip": "sw1a1aa"}}},
        sha256("sw1a1aa"),
    ),
    FieldCase(
        "user.city",
        {"batch": {"user_attributes": {"$City": "São Paulo"}}},
        {"request": {"user_attributes": {"$city": "Sao Paulo"}}},
        "saopaulo",
    ),
    FieldCase(
        "user.state",
        {"batch": {"user_attributes": {"$State": "FL"}}},
        {"request": {"user_attributes": {"$State": "fl"}}},
        "fl",
    ),
    FieldCase(
        "user.country",
        {"batch": {"user_attributes": {"$Country": "Österreich"}}},
        {"request": {"user_attributes": {"$COUNTRY": "Osterreich"}}},
        "osterreich",
    ),
    FieldCase(
        "page.url",
        {"data": {"custom_flags": {"TikTok.URL": URL + "?e=jane%40example.com&x=1"}}},
        {"event": {"custom_flags": {"TikTok.URL": URL + "?e=jane%40example.com&x=1"}}},
        URL + "?x=1",
    ),
    FieldCase(
        "page.referrer",
        {"data": {"custom_flags": {"TikTok.Referrer": "https://www.tiktok.com/"}}},
        {"event": {"custom_flags": {"TikTok.Referrer": "https://www.tiktok.com/"}}},
        "https://www.tiktok.com/",
    ),
    FieldCase(
        "properties.contents",
        {"product": {"brand": "Acme"}},
        {"product": {"brand": "Acme"}},
        [
            {
                "price": 25.0,
                "quantity": 2,
                "content_id": "SKU-1",
                "content_category": "apparel",
                "content_name": "Shoe",
                "brand": "Acme",
            }
        ],
    ),
    FieldCase(
        "properties.contents[].price", {"product": {"price": "9.90"}}, {"product": {"price": 9.9}}, 9.9
    ),
    FieldCase(
        "properties.contents[].quantity", {"product": {"quantity": "3"}}, {"product": {"quantity": 3.0}}, 3
    ),
    FieldCase("properties.contents[].content_id", {"product": {"id": 42}}, {"product": {"id": "42"}}, "42"),
    FieldCase(
        "properties.contents[].content_category",
        {"product": {"category": "shoes"}},
        {"product": {"category": "shoes"}},
        "shoes",
    ),
    FieldCase(
        "properties.contents[].content_name",
        {"product": {"name": "Boot"}},
        {"product": {"name": "Boot"}},
        "Boot",
    ),
    FieldCase(
        "properties.contents[].brand",
        {"product": {"brand": "Acme Outdoor"}},
        {"product": {"brand": "Acme Outdoor"}},
        "Acme Outdoor",
    ),
    FieldCase(
        "properties.content_ids",
        {"product": {"id": 42}},
        {"product": {"id": "42"}},
        ["42"],
    ),
    FieldCase(
        "properties.content_type", {}, {}, "product_group", MappingSettings(content_type="product_group")
    ),
    FieldCase(
        "properties.currency",
        {"data": {"currency_code": None, "product_action": {"currency_code": " eur "}}},
        {"event": {"currency_code": "eur"}},
        "EUR",
    ),
    FieldCase(
        "properties.value",
        {"data": {"product_action": {"total_amount": "74.50"}}},
        {"event": {"total_amount": 74.5}},
        74.5,
    ),
    FieldCase(
        "properties.order_id",
        {"data": {"product_action": {"transaction_id": 9007199254740993}}},
        {"event": {"transaction_id": "9007199254740993"}},
        "9007199254740993",
    ),
]


def table_fields() -> list[str]:
    """Every TikTok field of the tables, items named under their list (`properties.contents[].price`)."""
    rows = [*tables.EVENT_FIELDS, *(row for rows in tables.FIELDS_BY_EVENT_TYPE.values() for row in rows)]
    return [
        name
        for row in rows
        for name in (row.tiktok, *(f"{row.tiktok}[].{item.tiktok}" for item in row.items))
    ]


def value_at(payload: dict[str, Any], path: str) -> object:
    value: Any = payload
    for part in path.split("."):
        value = value[part[:-2]][0] if part.endswith("[]") else value[part]
    return value


def mapped_payload(result: MappingResult) -> dict[str, Any]:
    assert (result.received, dict(result.skipped)) == (1, {}), result.skipped
    payload: dict[str, Any] = result.mapped[0].payload
    return payload


def through_webhook(case: FieldCase) -> dict[str, Any]:
    document = webhook_batch()
    merge(document, case.webhook.get("batch", {}))
    merge(document["events"][0]["data"], case.webhook.get("data", {}))
    merge(document["events"][0]["data"]["product_action"]["products"][0], case.webhook.get("product", {}))
    return mapped_payload(map_batches(parse_webhook_body(json.dumps(document).encode()), case.settings))


def through_firehose(case: FieldCase) -> dict[str, Any]:
    document = firehose_request()
    merge(document, case.firehose.get("request", {}))
    merge(document["events"][0], case.firehose.get("event", {}))
    merge(document["events"][0]["products"][0], case.firehose.get("product", {}))
    batch = parse_event_processing_request(copy.deepcopy(document)).batch
    return mapped_payload(map_batches([batch], case.settings))


def test_every_field_of_the_tables_has_a_test_row() -> None:
    assert [case.tiktok for case in FIELD_CASES] == table_fields()


@pytest.mark.parametrize("case", FIELD_CASES, ids=[case.tiktok for case in FIELD_CASES])
def test_each_field_reaches_tiktok_alike_from_both_routes(case: FieldCase) -> None:
    from_webhook = through_webhook(case)
    from_firehose = through_firehose(case)

    assert value_at(from_webhook, case.tiktok) == case.expected
    assert type(value_at(from_webhook, case.tiktok)) is type(case.expected)
    assert from_firehose == from_webhook


def test_the_committed_mapping_table_is_the_generated_one() -> None:
    # Regenerate with: make mapping-docs
    assert DOCS.read_text(encoding="utf-8") == tables.markdown()


def test_the_mapping_table_documents_every_field() -> None:
    text = tables.markdown()
    for name in table_fields():
        assert f"| `{name}` |" in text


MODEL = {"event": Event, "batch": Batch, "product": Product, "settings": MappingSettings}


def all_rows() -> list[Field]:
    rows = [*tables.EVENT_FIELDS, *(row for rows in tables.FIELDS_BY_EVENT_TYPE.values() for row in rows)]
    return [field for row in rows for field in (row, *row.items)]


@pytest.mark.parametrize("field", all_rows(), ids=table_fields())
def test_every_source_names_an_attribute_of_the_typed_model(field: Field) -> None:
    scope, _, attribute = field.source.model.partition(".")
    assert scope in {*MODEL, "mapping"}
    if scope in MODEL:
        assert attribute.split("[")[0] in {f.name for f in dataclasses.fields(MODEL[scope])}


def test_a_user_attribute_source_reads_the_batch_attribute_whatever_its_case() -> None:
    # Advanced matching: real batches spell `$FirstName` and `$firstname`.
    batch = parse_webhook_body(json.dumps({"user_attributes": {"$FirstName": "Jane"}}).encode())[0]
    scope = Scope(batch, MappingSettings(), Counter(), Event("custom_event"))

    assert user_attribute("$firstname").get(scope) == "Jane"
    assert user_attribute("$FIRSTNAME").get(scope) == "Jane"
    assert Field("user.first_name", user_attribute("$FirstName"), "formatted once per batch").per_batch


@pytest.mark.parametrize("event_type", ["commerce_event", "custom_event"])
def test_each_plan_sets_every_field_of_its_tables_once(event_type: str) -> None:
    plan = PLANS_BY_TYPE.get(event_type, EVENT_PLAN)
    table = [*tables.EVENT_FIELDS, *tables.FIELDS_BY_EVENT_TYPE.get(event_type, ())]

    planned = [(BATCH_PLAN.objects[row.target], row.key) for row in BATCH_PLAN.rows]
    planned += [(plan.objects[row.target], row.key) for row in plan.rows]

    assert sorted(planned) == sorted((field.section, field.key) for field in table)
    for row in plan.rows:
        assert plan.code.count(f"target{row.target}[{row.key!r}] = value") == 1

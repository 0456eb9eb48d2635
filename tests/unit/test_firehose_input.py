"""Firehose messages into the internal model, and per-request settings (pure: no AWS, no network)."""

import hashlib
import json
from typing import Any

import pytest

from devstack import demo
from devstack.lambda_runtime import load_event
from tiktok_connector.inbound.firehose import (
    connection_settings,
    message_id,
    message_type,
    parse_event_processing_request,
    parse_message,
)
from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping.custom import parse_custom_mappings
from tiktok_connector.mapping.mapper import build_requests, map_batches
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.model.events import Identity
from tiktok_connector.platform.errors import BadRequestError

CUSTOM_MAPPINGS = parse_custom_mappings(json.dumps(demo.CUSTOM_MAPPINGS))
SHA256_EMAIL = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"  # jane.doe@example.com


def sample_body(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(load_event(name)["body"])
    return document


def request(**fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": "event_processing_request",
        "id": "0d6bb0b1-8f1f-4d0e-9d2e-1c2b3a4f5e6d",
        "timestamp_ms": 1741954214500,
        "firehose_version": "3.2.0",
        "account": {"account_id": 1, "account_settings": {"pixelId": "PIXEL"}},
        "events": [],
    }
    document.update(fields)
    return document


def settings_of(**account_settings: str) -> Any:
    return connection_settings(account_settings, default_phone_region="US", custom_mappings=CUSTOM_MAPPINGS)


def test_purchase_sample_reads_into_the_internal_model() -> None:
    parsed = parse_event_processing_request(sample_body("firehose-purchase"))

    batch = parsed.batch
    assert parsed.id == "653f8178-6498-434a-9f75-c32ac13f1acf"
    assert batch.batch_id == parsed.id
    assert batch.ip == "203.0.113.24"
    assert batch.user_agent is not None and batch.user_agent.startswith("Mozilla/5.0")
    assert batch.identities == {
        "customer_id": Identity("CUST-10042"),
        "email": Identity("jane.doe@example.com"),
        "mobile_number": Identity("+14155550123"),
    }
    [event] = batch.events
    assert event.event_type == "commerce_event"
    assert event.product_action == "purchase"
    # As real Firehose events come: the client's message id (`source_id`) is TikTok's event id, the
    # Webhook twin's `source_message_id`; mParticle's own `id` is the source event id.
    assert event.event_id == "fa7144e0-8d91-45a8-a818-2b9e9060b76b"
    assert event.source_event_id == "b8e4a0c2-6f1d-4c3e-9a57-2d8f0e6b1c94"
    assert event.timestamp_ms == 1741954212345
    assert (event.transaction_id, event.total_amount, event.currency_code) == ("ORD-2025-000123", 74.5, "USD")
    assert [(p.id, p.name, p.category, p.price, p.quantity, p.brand) for p in event.products] == [
        ("1077218", "Trail Running Shoe", "apparel", 25.0, 2, "Acme"),
        ("2203001", "Sport Socks", "apparel", 15.0, 1, None),
    ]
    assert event.custom_attributes == {"checkout_variant": "one-page"}
    assert event.custom_flags["tiktok.url"] == "https://shop.example.com/checkout/complete"
    assert event.custom_flags["tiktok.ttp"] == "2F7h37YkS1j57AYSKTI7IHhJPYH"
    assert (batch.locale_language, batch.locale_country) == ("en", "US")  # sent as `en_US`
    assert batch.user_attributes["$firstname"] == "Jane"
    assert batch.user_attributes["$city"] == "San Francisco"
    assert (batch.consent.ccpa, batch.consent.gdpr) == ({"data_sale_opt_out": False}, {})
    assert parsed.account_settings["pixelId"] == demo.PIXEL_ID
    assert parsed.account_id == "123456"


@pytest.mark.parametrize(
    ("firehose_event", "event_type", "name", "custom_event_type"),
    [
        ({"type": "product_action", "action": "add_to_cart"}, "commerce_event", None, None),
        ({"type": "promotion_action", "action": "view"}, "commerce_event", None, None),
        (
            {"type": "custom_event", "name": "Signup", "custom_event_type": "other"},
            "custom_event",
            "Signup",
            "other",
        ),
        ({"type": "screen_view", "screen_name": "Home"}, "screen_view", "Home", None),
        ({"type": "session_start"}, "session_start", None, None),
    ],
)
def test_event_types_take_their_webhook_names(
    firehose_event: dict[str, Any], event_type: str, name: str | None, custom_event_type: str | None
) -> None:
    parsed = parse_event_processing_request(
        request(events=[{"id": "e-1", "timestamp_ms": 1, **firehose_event}])
    )

    [event] = parsed.batch.events
    assert (event.event_type, event.name, event.custom_event_type) == (event_type, name, custom_event_type)
    assert event.invalid_reason is None
    assert event.product_action == (
        firehose_event.get("action") if firehose_event["type"] == "product_action" else None
    )


def test_identities_use_firehose_type_names_and_keep_their_encoding() -> None:
    identities = [
        {"type": "customer", "encoding": "raw", "value": "CUST-1"},
        {"type": "other2", "encoding": "raw", "value": "loyalty-7"},
        {"type": "email", "encoding": "SHA256", "value": SHA256_EMAIL},
        {"type": "mobile_number", "encoding": "md5", "value": "0123456789abcdef0123456789abcdef"},
        {"type": "phone_number_2", "value": "+442071838750"},
        {"type": "customer", "encoding": "raw", "value": "second-customer-id"},
        {"type": "android_id", "encoding": "raw", "value": "device"},
        {"type": "other3", "encoding": "raw", "value": "  "},
        "not an identity",
    ]

    parsed = parse_event_processing_request(request(user_identities=identities))

    assert parsed.batch.identities == {
        "customer_id": Identity("CUST-1"),
        "other_id_2": Identity("loyalty-7"),
        "email": Identity(SHA256_EMAIL, "sha256"),
        "phone_number_2": Identity("+442071838750"),
    }


def test_an_unreadable_event_is_marked_invalid_and_the_others_still_count() -> None:
    events = ["text", {"id": "x"}, {"type": "product_action", "id": "y", "products": "none"}]

    parsed = parse_event_processing_request(request(events=events))

    assert [event.invalid_reason is not None for event in parsed.batch.events] == [True, True, True]
    result = map_batches([parsed.batch], MappingSettings())
    assert (result.received, result.skipped["invalid_event"]) == (3, 3)


def test_an_event_without_id_gets_an_id_that_survives_a_resend() -> None:
    event = {"type": "product_action", "action": "add_to_cart", "timestamp_ms": 5}

    first = parse_event_processing_request(request(events=[event], mpid="42")).batch.events[0]
    again = parse_event_processing_request(request(events=[dict(event)], mpid="42")).batch.events[0]
    other_user = parse_event_processing_request(request(events=[event], mpid="43")).batch.events[0]

    assert first.event_id is not None and first.event_id.startswith("mp-")
    assert first.event_id == again.event_id != other_user.event_id
    assert first.source_event_id is None


def test_missing_parts_are_empty_not_errors() -> None:
    parsed = parse_event_processing_request(
        {"type": "event_processing_request", "id": "r", "account": {"account_settings": {"pixelId": "P"}}}
    )

    assert parsed.batch.events == []
    assert parsed.batch.identities == {}
    assert (parsed.batch.ip, parsed.batch.user_agent) == (None, None)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"events": {"type": "custom_event"}}, "events"),
        ({"account": "acct"}, "account"),
        ({"account": {"account_settings": ["pixelId"]}}, "account_settings"),
        ({"user_identities": {"email": "a@b.c"}}, "user_identities"),
        ({"runtime_environment": "mobileweb"}, "runtime_environment"),
    ],
)
def test_malformed_structure_is_a_bad_request_naming_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequestError, match=named):
        parse_event_processing_request(request(**fields))


@pytest.mark.parametrize("document", [[], "text", 7, None, {"id": "no type"}, {"type": 3}])
def test_a_body_that_is_not_a_firehose_message_is_a_bad_request(document: object) -> None:
    with pytest.raises(BadRequestError):
        parse_message(document)


def test_message_type_and_id_are_read_leniently() -> None:
    message = parse_message({"type": "dsr_processing_request", "id": " abc "})

    assert (message.type, message.id) == ("dsr_processing_request", "abc")
    assert (message_type([1]), message_id({"id": 5}), message_type({"type": "x"})) == (None, None, "x")


def test_account_settings_are_read_as_strings() -> None:
    parsed = parse_event_processing_request(
        request(
            account={"account_settings": {"pixelId": 123, "flag": True, "nested": {"a": 1}, "none": None}}
        )
    )

    assert parsed.account_settings == {"pixelId": "123", "flag": "true"}


def test_settings_default_to_the_registered_defaults() -> None:
    settings = settings_of(pixelId=" PIXEL ")

    assert settings.pixel_id == "PIXEL"
    assert settings.access_token is None
    assert settings.mapping == MappingSettings(
        email_identity_type="email",
        external_identity_type="customer_id",
        phone_identity_type="mobile_number",
        content_type="product",
        default_phone_region="US",
        custom_mappings=CUSTOM_MAPPINGS,
    )


def test_settings_accept_labels_and_firehose_names() -> None:
    settings = settings_of(
        pixelId="P",
        accessToken="request-token",
        emailIdentityType="Other 3",
        externalIdentityType="other2",
        phoneIdentityType="Phone Number 2",
        contentType="Product_Group",
    )

    mapping = settings.mapping
    assert (mapping.email_identity_type, mapping.external_identity_type) == ("other_id_3", "other_id_2")
    assert (mapping.phone_identity_type, mapping.content_type) == ("phone_number_2", "product_group")
    assert settings.access_token == "request-token"
    assert "request-token" not in repr(settings)


@pytest.mark.parametrize(
    ("account_settings", "named"),
    [
        ({}, "pixelId"),
        ({"pixelId": "   "}, "pixelId"),
        ({"pixelId": "P", "emailIdentityType": "Fax"}, "emailIdentityType"),
        ({"pixelId": "P", "externalIdentityType": "device id"}, "externalIdentityType"),
        ({"pixelId": "P", "phoneIdentityType": "landline"}, "phoneIdentityType"),
        ({"pixelId": "P", "contentType": "sku"}, "contentType"),
    ],
)
def test_a_bad_setting_is_a_bad_request_naming_its_id(account_settings: dict[str, str], named: str) -> None:
    with pytest.raises(BadRequestError, match=f"account setting {named}\\b"):
        settings_of(**account_settings)


def test_the_request_never_shows_its_access_token() -> None:
    parsed = parse_event_processing_request(
        request(account={"account_settings": {"pixelId": "P", "accessToken": "sekret-token"}})
    )

    assert parsed.account_settings["accessToken"] == "sekret-token"
    assert "sekret-token" not in repr(parsed)


@pytest.mark.parametrize(
    ("firehose", "webhook"),
    [("firehose-purchase", "webhook-purchase"), ("firehose-custom-mapped", "webhook-custom-mapped")],
)
def test_each_firehose_sample_maps_like_its_webhook_twin(firehose: str, webhook: str) -> None:
    firehose_request = parse_event_processing_request(sample_body(firehose))
    connection = settings_of(**firehose_request.account_settings)
    webhook_batches = parse_webhook_body(load_event(webhook)["body"].encode("utf-8"))

    from_firehose = map_batches([firehose_request.batch], connection.mapping)
    from_webhook = map_batches(webhook_batches, MappingSettings(custom_mappings=CUSTOM_MAPPINGS))

    assert from_firehose.mapped, "the sample must forward something"
    assert [m.payload for m in from_firehose.mapped] == [m.payload for m in from_webhook.mapped]
    assert (from_firehose.skipped, from_firehose.warnings) == (from_webhook.skipped, from_webhook.warnings)
    firehose_bodies = [r.body for r in build_requests(from_firehose.mapped, connection.pixel_id)]
    webhook_bodies = [r.body for r in build_requests(from_webhook.mapped, demo.PIXEL_ID)]
    assert firehose_bodies == webhook_bodies


def test_a_sha256_identity_is_passed_through_as_the_hash_of_the_normalised_value() -> None:
    identities = [{"type": "email", "encoding": "sha256", "value": SHA256_EMAIL.upper()}]
    event = {
        "type": "product_action",
        "id": "e-1",
        "timestamp_ms": 1741954212345,
        "action": "view_detail",
        "custom_flags": {"TikTok.URL": "https://shop.example.com/p/1"},
    }

    parsed = parse_event_processing_request(request(user_identities=identities, events=[event]))
    result = map_batches([parsed.batch], MappingSettings())

    [mapped] = result.mapped
    user = mapped.payload["user"]
    assert isinstance(user, dict)
    assert user["email"] == SHA256_EMAIL == hashlib.sha256(b"jane.doe@example.com").hexdigest()


# --- ids: the client's message id first ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "event_id", "source_event_id"),
    [
        ({"id": "server-uuid", "source_id": "client-uuid"}, "client-uuid", "server-uuid"),
        ({"id": "server-uuid"}, "server-uuid", "server-uuid"),
        ({"source_id": "client-uuid"}, "client-uuid", "client-uuid"),
        ({"id": "server-uuid", "source_id": "  "}, "server-uuid", "server-uuid"),
    ],
)
def test_the_tiktok_event_id_is_the_source_id_when_present(
    ids: dict[str, str], event_id: str, source_event_id: str
) -> None:
    # `source_id` is the client's message id, the Webhook's `source_message_id`: the same event sent
    # both ways reaches TikTok with one event_id, and TikTok keeps one.
    event = {"type": "product_action", "action": "add_to_cart", "timestamp_ms": 1741954212345, **ids}

    [parsed] = parse_event_processing_request(request(events=[event])).batch.events

    assert (parsed.event_id, parsed.source_event_id) == (event_id, source_event_id)


# --- typed values, as on the Webhook route ---------------------------------------------------------------


def test_values_are_typed_with_the_webhook_readers() -> None:
    event = {
        "type": "product_action",
        "id": "e-1",
        "timestamp_ms": "1741954212345",
        "action": "purchase",
        "transaction_id": 9007199254740993,
        "total_amount": "lots",
        "currency_code": " eur ",
        "products": [{"id": 7, "price": "9.90", "quantity": "x"}],
        "attributes": {"seats": 3, "vip": False},
        "custom_flags": {"TikTok.URL": ["https://shop.example.com/p"]},
    }

    [parsed] = parse_event_processing_request(request(events=[event])).batch.events

    assert (parsed.timestamp_ms, parsed.transaction_id, parsed.total_amount) == (
        1741954212345,
        "9007199254740993",
        None,
    )
    assert parsed.currency_code == "EUR"
    assert [(p.id, p.price, p.quantity) for p in parsed.products] == [("7", 9.9, None)]
    assert sorted(parsed.warnings) == ["invalid_quantity", "invalid_value"]
    assert parsed.custom_attributes == {"seats": "3", "vip": "false"}
    assert parsed.custom_flags == {"tiktok.url": "https://shop.example.com/p"}


def test_integer_identity_values_are_read_as_their_decimal_string() -> None:
    identities = [
        {"type": "customer", "encoding": "raw", "value": 123456},
        {"type": "other2", "encoding": "raw", "value": 9007199254740993},
        {"type": "other3", "encoding": "raw", "value": True},
        {"type": "other4", "encoding": "raw", "value": 2.5},
    ]

    parsed = parse_event_processing_request(request(user_identities=identities))

    assert parsed.batch.identities == {
        "customer_id": Identity("123456"),
        "other_id_2": Identity("9007199254740993"),
    }


# --- user attributes, device locale, consent (parsed for fields to come) --------------------------------

# As the mParticle Firehose Java SDK's example request carries them.
SDK_EXAMPLE_PARTS: dict[str, Any] = {
    "user_attributes": {
        "$City": "Boca Raton",
        "$FirstName": "Brian",
        "$Zip": "33431",
        "$LastName": "O'Brian",
    },
    "runtime_environment": {
        "type": "android",
        "client_ip_address": "192.168.1.15",
        "locale_language": "en",
        "locale_country": "en_US",
    },
    "consent_state": {
        "gdpr_consent_state": {"consentPurpose": {"consented": True, "document": "document"}},
        "ccpa_consent_state": {"data_sale_opt_out": {"consented": True, "document": "document"}},
    },
}


def test_user_attributes_locale_and_consent_of_the_sdk_example_are_read() -> None:
    batch = parse_event_processing_request(request(**SDK_EXAMPLE_PARTS)).batch

    assert batch.user_attributes == {
        "$city": "Boca Raton",
        "$firstname": "Brian",
        "$zip": "33431",
        "$lastname": "O'Brian",
    }
    assert (batch.locale_language, batch.locale_country) == ("en", "US")
    assert (batch.consent.gdpr, batch.consent.ccpa) == ({"consentpurpose": True}, {"data_sale_opt_out": True})
    assert batch.ip == "192.168.1.15"


def test_consent_in_the_sdk_schema_names_is_read_too() -> None:
    consent = {
        "gdpr": {"marketing": {"consented": False}},
        "ccpa": {"data_sale_opt_out": {"consented": True}},
    }

    batch = parse_event_processing_request(request(consent_state=consent)).batch

    assert (batch.consent.gdpr, batch.consent.ccpa) == ({"marketing": False}, {"data_sale_opt_out": True})

"""The module_registration_response: the Firehose SDK's shape, and the integration's settings.

`REGISTRATION_SCHEMA` restates, in JSON Schema draft 3 (the dialect the SDK publishes its schemas in), the
fields and enums of the SDK's `ModuleRegistrationResponse`, `Permissions`, `UserIdentityPermission`,
`EventProcessingRegistration` and `TextSetting` models (Firehose SDK 3.x). Objects the SDK defines
completely are closed (`additionalProperties: false`) so that a misspelt field fails here, not at mParticle.
"""

import copy
import tomllib
import uuid
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from tiktok_connector.inbound.registration import (
    DESCRIPTION,
    INTEGRATION_VERSION,
    USER_IDENTITY_TYPES,
    registration_response,
)
from tiktok_connector.mapping.identities import IDENTITY_TYPES, canonical_identity_type
from tiktok_connector.mapping.vocabulary import CONTENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
ENCODINGS = ["raw", "md5", "sha1", "sha256"]
FIREHOSE_USER_IDENTITY_TYPES = [
    "other",
    "customer",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
    "email",
    *(f"other{n}" for n in range(2, 11)),
    "mobile_number",
    "phone_number_2",
    "phone_number_3",
]
EVENT_TYPES = [
    "session_start",
    "session_end",
    "custom_event",
    "screen_view",
    "error",
    "privacy_setting_change",
    "user_attribute_change",
    "user_identity_change",
    "push_subscription",
    "application_state_transition",
    "push_message_receipt",
    "product_action",
    "promotion_action",
    "impression",
    "attribution",
    "push_message_open",
]
RUNTIME_ENVIRONMENTS = [
    "unknown",
    "android",
    "ios",
    "tvos",
    "mobileweb",
    "roku",
    "xbox",
    "firetv",
    "alexa",
    "smarttv",
]
MESSAGE_TYPES = [
    f"{name}_{kind}"
    for name in (
        "module_registration",
        "event_processing",
        "audience_subscription",
        "audience_membership_change",
        "dsr_processing",
    )
    for kind in ("request", "response")
]
PERMISSION_FLAGS = [
    "allow_access_location",
    "allow_access_ip_address",
    "allow_access_device_application_stamp",
    "allow_device_info",
    "allow_user_attributes",
    "allow_consent_state",
    "allow_audience_user_attributes",
    "allow_access_http_user_agent",
    "allow_access_mpid",
    "allow_platform_fields",
    "allow_eventless_batches",
    "allow_only_mapped_events",
    "allow_active_time_on_site",
]


def _identity_permission(types: list[str] | None) -> dict[str, Any]:
    type_schema: dict[str, Any] = {"type": "string", "required": True}
    if types is not None:
        type_schema["enum"] = types
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "type": type_schema,
            "encoding": {"type": "string", "required": True, "enum": ENCODINGS},
            "required": {"type": "boolean"},
        },
    }


SETTING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "required": True, "enum": ["text", "integer", "float", "boolean"]},
        "id": {"type": "string", "required": True},
        "name": {"type": "string", "required": True},
        "description": {"type": "string"},
        "visible": {"type": "boolean"},
        # TextSetting's own fields
        "default_value": {"type": "string"},
        "required": {"type": "boolean"},
        "confidential": {"type": "boolean"},
    },
}

REGISTRATION_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-03/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "required": True, "enum": MESSAGE_TYPES},
        "id": {"type": "string", "required": True, "pattern": "^[0-9a-fA-F-]{36}$"},
        "timestamp_ms": {"type": "integer", "required": True},
        "firehose_version": {"type": "string", "required": True},
        "sdk_version": {"type": "string"},
        "name": {"type": "string", "required": True, "minLength": 1},
        "description": {"type": "string", "maxLength": 229},
        "version": {"type": "string", "required": True, "minLength": 1},
        "permissions": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "device_identities": {"type": "array", "items": _identity_permission(None)},
                "user_identities": {
                    "type": "array",
                    "items": _identity_permission(FIREHOSE_USER_IDENTITY_TYPES),
                },
                "partner_identities": {"type": "array", "items": _identity_permission(None), "maxItems": 1},
                **{flag: {"type": "boolean"} for flag in PERMISSION_FLAGS},
            },
        },
        "event_processing_registration": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "account_settings": {"type": "array", "items": SETTING_SCHEMA},
                "event_connection_settings": {"type": "array", "items": SETTING_SCHEMA},
                "supported_event_types": {"type": "array", "items": {"type": "string", "enum": EVENT_TYPES}},
                "supported_runtime_environments": {
                    "type": "array",
                    "items": {"type": "string", "enum": RUNTIME_ENVIRONMENTS},
                },
                "supported_system_notification_types": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["gdpr_consent_state", "ccpa_consent_state"]},
                },
                "max_data_age_hours": {"type": "integer"},
                "push_messaging_provider_id": {"type": "string"},
                "authentication": {"type": "object"},
            },
        },
        "audience_processing_registration": {"type": "object"},
        "dsr_processing_registration": {"type": "object"},
    },
}

# mParticle's TikTok Event integration: its "Configuration Settings" and "Connection Settings" tables,
# with the Firehose setting ids.
INTEGRATION_SETTINGS = [
    # (id, name, required, confidential, default)
    ("accessToken", "Access Token", True, True, None),
    ("pixelId", "Pixel Id", True, False, None),
    ("emailIdentityType", "Email Identity Type", True, False, "Email"),
    ("externalIdentityType", "External Identity Type", True, False, "Customer ID"),
    ("phoneIdentityType", "Phone Identity Type", True, False, "Mobile Number"),
    ("contentType", "Content Type", True, False, "product"),
]


def validation_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft3Validator(REGISTRATION_SCHEMA)
    return [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(document)]


def test_the_schema_restatement_is_itself_valid_draft_3() -> None:
    jsonschema.Draft3Validator.check_schema(REGISTRATION_SCHEMA)


def test_the_registration_response_validates_against_the_sdk_shape() -> None:
    response = registration_response("438b0f74-8656-4f87-93c7-c9f9ac8a5544")

    assert validation_errors(response) == []
    assert response["type"] == "module_registration_response"
    assert response["id"] == "438b0f74-8656-4f87-93c7-c9f9ac8a5544"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("permissions", "user_identities", 0, "type"), "customer_id"),
        (("permissions", "user_identities", 0, "encoding"), "sha512"),
        (("event_processing_registration", "account_settings", 0, "name"), None),
        (("event_processing_registration", "account_settings", 0, "defaultValue"), "x"),
        (("event_processing_registration", "supported_event_types", 0), "commerce_event"),
        (("event_processing_registration", "supported_runtime_environments", 0), "web"),
        (("version",), None),
    ],
)
def test_the_schema_rejects_what_the_sdk_would_not_read(path: tuple[str | int, ...], value: object) -> None:
    response = copy.deepcopy(registration_response())
    parent: Any = response
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value

    assert validation_errors(response) != []


def test_account_settings_are_the_integrations_tables() -> None:
    registration = registration_response()["event_processing_registration"]
    assert isinstance(registration, dict)

    settings = registration["account_settings"]
    assert [
        (s["id"], s["name"], s["required"], s["confidential"], s.get("default_value")) for s in settings
    ] == INTEGRATION_SETTINGS
    assert all(s["type"] == "text" and s["visible"] is True and s["description"] for s in settings)


def test_the_setting_defaults_are_the_spec_defaults() -> None:
    registration = registration_response()["event_processing_registration"]
    assert isinstance(registration, dict)
    defaults = {s["id"]: s.get("default_value") for s in registration["account_settings"]}

    assert canonical_identity_type(defaults["emailIdentityType"]) == "email"
    assert canonical_identity_type(defaults["externalIdentityType"]) == "customer_id"
    assert canonical_identity_type(defaults["phoneIdentityType"]) == "mobile_number"
    assert defaults["contentType"] in CONTENT_TYPES


def test_permissions_cover_every_identity_a_setting_can_select_raw() -> None:
    permissions = registration_response()["permissions"]
    assert isinstance(permissions, dict)

    registered = {p["type"]: p for p in permissions["user_identities"]}
    # Every identity type the connector knows that Firehose can carry (alias and
    # facebook_custom_audience_id have no Firehose name).
    selectable = set(IDENTITY_TYPES) - {"alias", "facebook_custom_audience_id"}
    assert {canonical_identity_type(name) for name in registered} == selectable
    assert {"email", "customer", "mobile_number"} <= set(registered)
    assert all(p["encoding"] == "raw" and p["required"] is False for p in registered.values())
    assert len(registered) == len(USER_IDENTITY_TYPES)
    assert permissions["allow_access_ip_address"] is True
    assert permissions["allow_access_http_user_agent"] is True
    assert "allow_access_mpid" not in permissions and "allow_user_attributes" not in permissions


def test_supported_events_and_runtimes() -> None:
    registration = registration_response()["event_processing_registration"]
    assert isinstance(registration, dict)

    assert registration["supported_event_types"] == ["product_action", "custom_event", "screen_view"]
    assert registration["supported_runtime_environments"] == ["mobileweb"]
    assert "audience_processing_registration" not in registration_response()


def test_name_description_and_version() -> None:
    response = registration_response()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())

    assert response["name"] == "TikTok Events API"
    assert response["description"] == DESCRIPTION and len(DESCRIPTION) < 230
    assert response["version"] == INTEGRATION_VERSION == pyproject["project"]["version"]


@pytest.mark.parametrize("request_id", [None, "", "   ", 17])
def test_a_request_without_a_usable_id_gets_a_new_uuid(request_id: object) -> None:
    response = registration_response(request_id)

    assert isinstance(response["id"], str)
    assert str(uuid.UUID(response["id"])) == response["id"]
    assert validation_errors(response) == []

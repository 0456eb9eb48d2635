"""mParticle's Firehose messages (its partner protocol over HTTPS) parsed into the typed internal model.

Mostly only the names differ from the Webhook batch: a `product_action` event is a `commerce_event`,
`attributes` are the custom attributes, and an event's `source_id` (the client's message id) is the
Webhook's `source_message_id`, while its `id` is mParticle's own. The values are read with the readers
the Webhook parser uses, so both routes give the same typed model and the same TikTok events.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from tiktok_connector.inbound.readers import (
    BATCH_READS,
    COMMERCE_READS,
    consent_state,
    custom_attributes,
    custom_flags,
    derived_event_id,
    identity_text,
    locale,
    plausible_ms,
    read_event_time,
    read_names,
    read_product_action,
    user_attributes,
)
from tiktok_connector.inbound.registration import (
    ACCESS_TOKEN,
    CONTENT_TYPE,
    EMAIL_IDENTITY_TYPE,
    EXTERNAL_IDENTITY_TYPE,
    PHONE_IDENTITY_TYPE,
    PIXEL_ID,
    SETTING_DEFAULTS,
)
from tiktok_connector.mapping.custom import CustomMapping
from tiktok_connector.mapping.identities import canonical_identity_type
from tiktok_connector.mapping.settings import (
    DEFAULT_MATCH_SETTINGS,
    MappingSettings,
    MatchSettings,
    validated_mapping_settings,
)
from tiktok_connector.model.events import Batch, Event, Identity, IdentityEncoding
from tiktok_connector.platform.errors import BadRequestError, ConfigurationError
from tiktok_connector.platform.values import to_text

REGISTRATION_REQUEST: Final = "module_registration_request"
EVENT_PROCESSING_REQUEST: Final = "event_processing_request"
NOOP_RESPONSES: Final = {
    "audience_subscription_request": "audience_subscription_response",
    "audience_membership_change_request": "audience_membership_change_response",
    "dsr_processing_request": "dsr_processing_response",
}
"""Messages this integration answers without acting on them (it registers no audience or DSR support)."""

# Firehose event types under their Webhook names; the others keep theirs (and are unsupported).
_EVENT_TYPES: Final = {
    "product_action": "commerce_event",
    "promotion_action": "commerce_event",
    "impression": "commerce_event",
}
_NAME_KEYS: Final = {"custom_event": ("name", "custom_event_type"), "screen_view": ("screen_name", None)}
"""Where a custom event's name and type and a screen view's name sit in a Firehose event."""
_ENCODINGS: Final[dict[str, IdentityEncoding]] = {"raw": "raw", "sha256": "sha256"}
_SETTING_NAMES: Final = {
    "email_identity_type": EMAIL_IDENTITY_TYPE,
    "external_identity_type": EXTERNAL_IDENTITY_TYPE,
    "phone_identity_type": PHONE_IDENTITY_TYPE,
    "content_type": CONTENT_TYPE,
}
_BATCH_READS: Final = BATCH_READS["firehose"]
_COMMERCE_READS: Final = COMMERCE_READS["firehose"]
assert _BATCH_READS.containers == ("", "runtime_environment"), "the request and its runtime environment"
assert _COMMERCE_READS.containers == ("",), "a product action's values sit in the event itself"


@dataclass(frozen=True, slots=True)
class FirehoseMessage:
    """Any Firehose message: its `type` discriminator, its `id` and the whole document."""

    type: str
    id: str | None
    document: dict[str, object] = field(repr=False)


@dataclass(slots=True)
class EventProcessingRequest:
    id: str | None
    batch: Batch
    account_settings: dict[str, str] = field(repr=False)  # holds the TikTok access token
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """The settings of one Firehose request, validated: what the Webhook path reads from the environment."""

    pixel_id: str
    mapping: MappingSettings
    access_token: str | None = field(default=None, repr=False)


def message_type(document: object) -> str | None:
    """The `type` of a decoded message, or None when it is not a Firehose message object."""
    if not isinstance(document, dict):
        return None
    kind = document.get("type")
    return kind if isinstance(kind, str) else None


def message_id(document: object) -> str | None:
    raw = document.get("id") if isinstance(document, dict) else None
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def parse_message(document: object) -> FirehoseMessage:
    """A decoded body as a Firehose message; anything else is a 400."""
    if not isinstance(document, dict):
        raise BadRequestError("body must be a Firehose message object")
    kind = message_type(document)
    if kind is None:
        raise BadRequestError("the Firehose message has no 'type'")
    return FirehoseMessage(type=kind, id=message_id(document), document=document)


def parse_event_processing_request(document: Mapping[str, object]) -> EventProcessingRequest:
    """An `event_processing_request` as one internal batch plus its account settings."""
    raw_events = document.get("events")
    if raw_events is None:
        raw_events = []
    elif not isinstance(raw_events, list):
        raise BadRequestError("events must be a list of events")
    account = _object_at(document, "account")
    runtime = _object_at(document, "runtime_environment")
    request_id = message_id(document)
    mpid = to_text(document.get("mpid"))
    timestamp_ms = plausible_ms(document.get("timestamp_ms"))
    language, country = locale(runtime.get("locale_language"), runtime.get("locale_country"))
    batch = Batch(
        events=[_parse_event(item, mpid, timestamp_ms) for item in raw_events],
        identities=_parse_identities(document.get("user_identities")),
        batch_id=request_id,
        timestamp_ms=timestamp_ms,
        user_attributes=user_attributes(document.get("user_attributes")),
        locale_language=language,
        locale_country=country,
        consent=consent_state(document.get("consent_state")),
    )
    _BATCH_READS.read(batch, document, runtime)
    return EventProcessingRequest(
        id=request_id,
        batch=batch,
        account_settings=_parse_account_settings(account.get("account_settings")),
        account_id=to_text(account.get("account_id")),
    )


def connection_settings(
    account_settings: Mapping[str, str],
    *,
    default_phone_region: str,
    custom_mappings: tuple[CustomMapping, ...],
    match: MatchSettings = DEFAULT_MATCH_SETTINGS,
) -> ConnectionSettings:
    """Validate a request's settings; a bad one is a 400 naming its setting id (mParticle won't retry).

    `default_phone_region`, `custom_mappings` and `match` are the deployment's, the same for every
    connection."""

    def setting(setting_id: str) -> str:
        value = account_settings.get(setting_id, "").strip()
        return value or SETTING_DEFAULTS.get(setting_id, "")

    pixel_id = setting(PIXEL_ID)
    if not pixel_id:
        raise BadRequestError(f"account setting {PIXEL_ID} is required (the TikTok Pixel Id)")
    try:
        mapping = validated_mapping_settings(
            email_identity_type=setting(EMAIL_IDENTITY_TYPE),
            external_identity_type=setting(EXTERNAL_IDENTITY_TYPE),
            phone_identity_type=setting(PHONE_IDENTITY_TYPE),
            content_type=setting(CONTENT_TYPE),
            default_phone_region=default_phone_region,
            custom_mappings=custom_mappings,
            label=lambda name: f"account setting {_SETTING_NAMES.get(name, name)}",
            match=match,
        )
    except ConfigurationError as error:
        raise BadRequestError(str(error)) from None
    return ConnectionSettings(pixel_id=pixel_id, mapping=mapping, access_token=setting(ACCESS_TOKEN) or None)


def _object_at(document: Mapping[str, object], key: str) -> dict[str, object]:
    """An optional object of the request: {} when absent, a 400 naming it when it is something else."""
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequestError(f"{key} must be an object")
    return value


def _parse_account_settings(raw: object) -> dict[str, str]:
    """Settings arrive as strings; numbers and booleans are read as their text, anything else ignored."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequestError("account.account_settings must be an object of setting id to string")
    settings = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            settings[key] = "true" if value else "false"
        else:
            text = value if isinstance(value, str) else to_text(value)
            if text is not None:
                settings[key] = text
    return settings


def _parse_identities(raw: object) -> dict[str, Identity]:
    """`[{type, encoding, value}]` with Firehose type names; md5/sha1 values cannot become SHA-256."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise BadRequestError("user_identities must be a list of {type, encoding, value}")
    identities: dict[str, Identity] = {}
    for item in raw:
        if not isinstance(item, dict):
            continue
        identity_type, encoding = item.get("type"), item.get("encoding", "raw")
        value = identity_text(item.get("value"))
        if not isinstance(identity_type, str) or value is None:
            continue
        known_encoding = _ENCODINGS.get(encoding.strip().lower()) if isinstance(encoding, str) else None
        canonical = canonical_identity_type(identity_type)
        if known_encoding is not None and canonical is not None and canonical not in identities:
            identities[canonical] = Identity(value, known_encoding)
    return identities


def _parse_event(raw: object, mpid: str | None, batch_ms: int | None) -> Event:
    if not isinstance(raw, dict):
        return Event(event_type="unknown", invalid_reason="event is not an object")
    firehose_type = raw.get("type")
    if not isinstance(firehose_type, str):
        return Event(event_type="unknown", invalid_reason="event has no type")
    event_uuid = to_text(raw.get("id"))
    source_id = to_text(raw.get("source_id"))
    event = Event(
        _EVENT_TYPES.get(firehose_type, firehose_type),
        # The client's message id first: the same event sent through the Webhook reaches TikTok once.
        source_id or event_uuid or derived_event_id(raw, mpid),
        event_uuid or source_id,
        custom_attributes(raw.get("attributes")),
        custom_flags(raw.get("custom_flags")),
    )
    read_event_time(event, raw.get("timestamp_ms"), batch_ms)
    if firehose_type == "product_action":
        read_product_action(event, raw.get("action"), raw.get("products"), "products", _COMMERCE_READS, raw)
    else:
        read_names(event, raw, _NAME_KEYS.get(firehose_type))
    return event

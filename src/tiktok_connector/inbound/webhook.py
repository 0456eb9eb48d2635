"""mParticle's Webhook output (the outbound JSON batch) parsed into the typed internal model."""

from typing import Final

from tiktok_connector.inbound.json_body import parse_json
from tiktok_connector.inbound.readers import (
    BATCH_READS,
    COMMERCE_READS,
    consent_state,
    custom_attributes,
    custom_flags,
    derived_event_id,
    identity_text,
    locale,
    object_or_empty,
    plausible_ms,
    read_event_time,
    read_names,
    read_product_action,
    user_attributes,
)
from tiktok_connector.mapping.identities import canonical_identity_type
from tiktok_connector.model.events import Batch, Event, Identity
from tiktok_connector.platform.errors import BadRequestError
from tiktok_connector.platform.values import to_int64, to_text

_COMMERCE: Final = "commerce_event"
_NAME_KEYS: Final = {
    "custom_event": ("event_name", "custom_event_type"),
    "screen_view": ("screen_name", None),
}
"""Where a custom event's name and type and a screen view's name sit in an event's `data`."""
_BATCH_READS: Final = BATCH_READS["webhook"]
_COMMERCE_READS: Final = COMMERCE_READS["webhook"]
assert _BATCH_READS.containers == ("", "device_info"), "the batch and its device info"
assert _COMMERCE_READS.containers == ("", "product_action"), "an event's data and its product action"


def parse_webhook_body(body: bytes) -> list[Batch]:
    """One batch object or a JSON array of batches; a malformed event is marked, not fatal."""
    document = parse_json(body)
    if isinstance(document, dict):
        return [parse_batch(document, "batch")]
    if isinstance(document, list):
        return [parse_batch(item, f"batch[{index}]") for index, item in enumerate(document)]
    raise BadRequestError("body must be an mParticle batch object or a JSON array of batches")


def parse_batch(raw: object, where: str) -> Batch:
    if not isinstance(raw, dict):
        raise BadRequestError(f"{where} is not an mParticle batch object")
    raw_events = raw.get("events")
    if raw_events is None:
        raw_events = []
    elif not isinstance(raw_events, list):
        raise BadRequestError(f"{where}.events must be a list of events")
    device_info = object_or_empty(raw.get("device_info"))
    language, country = locale(device_info.get("locale_language"), device_info.get("locale_country"))
    timestamp_ms = plausible_ms(raw.get("timestamp_unixtime_ms"))
    mpid = to_text(raw.get("mpid"))
    batch = Batch(
        events=[_parse_event(item, mpid, timestamp_ms) for item in raw_events],
        identities=_parse_identities(raw.get("user_identities"), where),
        batch_id=to_text(raw.get("batch_id")),
        source_request_id=to_text(raw.get("source_request_id")),
        timestamp_ms=timestamp_ms,
        user_attributes=user_attributes(raw.get("user_attributes")),
        locale_language=language,
        locale_country=country,
        consent=consent_state(raw.get("consent_state")),
    )
    _BATCH_READS.read(batch, raw, device_info)
    return batch


def _parse_identities(raw: object, where: str) -> dict[str, Identity]:
    """Outbound form: a list of {identity_type, identity}; inbound form: {type: value}."""
    if raw is None:
        return {}
    pairs: list[tuple[object, object]]
    if isinstance(raw, list):
        pairs = [(item.get("identity_type"), item.get("identity")) for item in raw if isinstance(item, dict)]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise BadRequestError(f"{where}.user_identities must be a list of identities or an object")
    identities: dict[str, Identity] = {}
    for identity_type, value in pairs:
        text = identity_text(value)
        if not isinstance(identity_type, str) or text is None:
            continue
        canonical = canonical_identity_type(identity_type)
        if canonical is not None and canonical not in identities:
            identities[canonical] = Identity(text)
    return identities


def _parse_event(raw: object, mpid: str | None, batch_ms: int | None) -> Event:
    if not isinstance(raw, dict):
        return Event(event_type="unknown", invalid_reason="event is not an object")
    event_type = raw.get("event_type")
    data = raw.get("data")
    if not isinstance(event_type, str) or not isinstance(data, dict):
        return Event(
            event_type=event_type if isinstance(event_type, str) else "unknown",
            invalid_reason="event has no event_type or no data object",
        )
    server_id = to_int64(data.get("event_id"))
    source_event_id = str(server_id) if server_id is not None else None
    source_message_id = to_text(data.get("source_message_id"))
    event = Event(
        event_type,
        source_message_id or source_event_id or derived_event_id(raw, mpid),
        source_event_id or source_message_id,
        custom_attributes(data.get("custom_attributes")),
        custom_flags(data.get("custom_flags")),
    )
    read_event_time(event, data.get("timestamp_unixtime_ms"), batch_ms)
    if event_type == _COMMERCE:
        product_action = data.get("product_action")
        if isinstance(product_action, dict):
            read_product_action(
                event,
                product_action.get("action"),
                product_action.get("products"),
                "product_action.products",
                _COMMERCE_READS,
                data,
                product_action,
            )
        elif product_action is not None:  # absent: a promotion or impression event, unsupported
            event.invalid_reason = "product_action is not an object"
    else:
        read_names(event, data, _NAME_KEYS.get(event_type))
    return event

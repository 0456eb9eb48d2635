"""Pure mapping from the internal model to TikTok Events API 2.0 events and requests (SPEC 3, 4).

No I/O here: everything is testable without AWS or a network.
"""

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tiktok_connector.mapping.custom import CustomMapping, convert_property, find_custom_mapping
from tiktok_connector.mapping.identities import hashed_identifier
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.mapping.vocabulary import (
    CURRENCIES,
    ITEM_PROPERTIES,
    MAX_EVENTS_PER_REQUEST,
    NATIVE_COMMERCE_EVENTS,
)
from tiktok_connector.model.events import Batch, Event, Product
from tiktok_connector.model.tiktok import JsonObject, SourceRef, TikTokRequest
from tiktok_connector.platform.values import to_number, to_text, to_whole_number


@dataclass(slots=True)
class MappedEvent:
    payload: JsonObject
    source: SourceRef


@dataclass(slots=True)
class MappingResult:
    """Every received event ends either in `mapped` or in `skipped` (by reason)."""

    received: int = 0
    mapped: list[MappedEvent] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)


def map_batches(batches: Iterable[Batch], settings: MappingSettings) -> MappingResult:
    """Map every event of every batch; each one is mapped or skipped with a reason."""
    result = MappingResult()
    for batch in batches:
        _map_batch(batch, settings, result)
    return result


def build_requests(
    events: Sequence[MappedEvent], pixel_id: str, test_event_code: str | None = None
) -> list[TikTokRequest]:
    """The fewest requests of at most 1,000 events each (TikTok rejects larger ones whole)."""
    requests = []
    for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
        chunk = events[start : start + MAX_EVENTS_PER_REQUEST]
        body: JsonObject = {"event_source": "web", "event_source_id": pixel_id}
        if test_event_code:
            body["test_event_code"] = test_event_code
        body["data"] = [event.payload for event in chunk]
        requests.append(TikTokRequest(body=body, sources=[event.source for event in chunk]))
    return requests


def _map_batch(batch: Batch, settings: MappingSettings, result: MappingResult) -> None:
    identifiers: JsonObject | None = None  # hashed once per batch, only when an event needs them
    for event in batch.events:
        result.received += 1
        if event.invalid_reason is not None:
            result.skipped["invalid_event"] += 1
            continue
        mapping = find_custom_mapping(settings.custom_mappings, event)
        tiktok_event = mapping.tiktok_event if mapping else _native_event_name(event)
        if tiktok_event is None:
            result.skipped["unsupported_event"] += 1
            continue
        if identifiers is None:
            identifiers = _hashed_identifiers(batch, settings, result.warnings)
        if not identifiers:
            result.skipped["no_identifiers"] += 1
            continue
        page_url = _flag(event.custom_flags, "TikTok.URL")
        if page_url is None or not page_url.lower().startswith(("http://", "https://")):
            result.skipped["invalid_page_url"] += 1
            continue
        payload = _tiktok_event(event, batch, tiktok_event, mapping, identifiers, page_url, settings, result)
        assert event.event_id is not None  # the parsers always assign one
        result.mapped.append(
            MappedEvent(
                payload=payload,
                source=SourceRef(
                    event_id=event.event_id, batch_id=batch.batch_id, source_event_id=event.source_event_id
                ),
            )
        )


def _native_event_name(event: Event) -> str | None:
    if event.event_type != "commerce_event" or event.product_action is None:
        return None
    return NATIVE_COMMERCE_EVENTS.get(event.product_action)


def _hashed_identifiers(batch: Batch, settings: MappingSettings, warnings: Counter[str]) -> JsonObject:
    identifiers: JsonObject = {}
    for kind, identity_type in settings.identity_types():
        identity = batch.identities.get(identity_type)
        if identity is None:
            continue
        hashed = hashed_identifier(kind, identity, settings.default_phone_region)
        if hashed is None:
            warnings[f"invalid_{kind}"] += 1
        else:
            identifiers[kind] = hashed
    return identifiers


def _tiktok_event(
    event: Event,
    batch: Batch,
    tiktok_event: str,
    mapping: CustomMapping | None,
    identifiers: JsonObject,
    page_url: str,
    settings: MappingSettings,
    result: MappingResult,
) -> JsonObject:
    warnings = result.warnings
    user = dict(identifiers)
    if batch.ip:
        user["ip"] = batch.ip
    else:
        warnings["missing_ip"] += 1
    if batch.user_agent:
        user["user_agent"] = batch.user_agent
    else:
        warnings["missing_user_agent"] += 1
    callback = _flag(event.custom_flags, "TikTok.Callback")
    if callback is not None:
        if callback.startswith("E.C.P"):
            user["ttclid"] = callback
        else:
            warnings["invalid_ttclid"] += 1

    page: JsonObject = {"url": page_url}
    referrer = _flag(event.custom_flags, "TikTok.Referrer")
    if referrer:
        page["referrer"] = referrer

    properties = (
        _commerce_properties(event, settings, warnings) if event.event_type == "commerce_event" else {}
    )
    if mapping is not None and mapping.properties:
        properties = _mapped_properties(mapping, event, properties, settings, warnings)

    payload: JsonObject = {
        "event": tiktok_event,
        "event_time": _event_time_seconds(event, batch, warnings),
        "event_id": event.event_id,
        "user": user,
        "page": page,
    }
    if properties:
        payload["properties"] = properties
    return payload


# Plausible Unix times in milliseconds (2001-09-09 to 2286-11-20): anything else is not a real event
# time, and TikTok would refuse the whole request over it.
_MIN_TIMESTAMP_MS = 10**12
_MAX_TIMESTAMP_MS = 10**13


def _event_time_seconds(event: Event, batch: Batch, warnings: Counter[str]) -> int:
    if event.timestamp_ms is not None and not _MIN_TIMESTAMP_MS <= event.timestamp_ms < _MAX_TIMESTAMP_MS:
        warnings["invalid_timestamp"] += 1
    for timestamp_ms in (event.timestamp_ms, batch.timestamp_ms):
        if timestamp_ms is not None and _MIN_TIMESTAMP_MS <= timestamp_ms < _MAX_TIMESTAMP_MS:
            return timestamp_ms // 1000
    return int(time.time())


def _flag(flags: dict[str, str], name: str) -> str | None:
    value = flags.get(name)
    if value is None and flags:
        lowered = name.lower()
        value = next((v for k, v in flags.items() if k.lower() == lowered), None)
    return value.strip() or None if value is not None else None


def _commerce_properties(event: Event, settings: MappingSettings, warnings: Counter[str]) -> JsonObject:
    properties: JsonObject = {}
    contents = [item for product in event.products if (item := _content_item(product, warnings))]
    if contents:
        properties["contents"] = contents
    properties["content_type"] = settings.content_type
    value = to_number(event.total_amount)
    if value is None and event.total_amount is not None:
        warnings["invalid_value"] += 1
    _set_currency_and_value(properties, to_text(event.currency_code), value, warnings)
    if event.product_action == "purchase":
        order_id = to_text(event.transaction_id)
        if order_id is not None:
            properties["order_id"] = order_id
    return properties


def _set_currency_and_value(
    properties: JsonObject, currency: str | None, value: object, warnings: Counter[str]
) -> None:
    """A currency TikTok does not list would fail the whole request: leave it out with its value."""
    if currency is not None:
        code = currency.strip().upper()
        if code not in CURRENCIES:
            warnings["unsupported_currency"] += 1
            properties.pop("currency", None)
            properties.pop("value", None)
            return
        properties["currency"] = code
    if value is not None:
        properties["value"] = value


def _content_item(product: Product, warnings: Counter[str]) -> JsonObject | None:
    item: JsonObject = {}
    price = to_number(product.price)
    if price is not None:
        item["price"] = price
    elif product.price is not None:
        warnings["invalid_price"] += 1
    quantity = to_whole_number(product.quantity)
    if quantity is not None:
        item["quantity"] = quantity
    elif product.quantity is not None:
        warnings["invalid_quantity"] += 1
    for key, raw in (
        ("content_id", product.id),
        ("content_category", product.category),
        ("content_name", product.name),
    ):
        text = to_text(raw)
        if text is not None:
            item[key] = text
    return item or None


def _mapped_properties(
    mapping: CustomMapping,
    event: Event,
    defaults: JsonObject,
    settings: MappingSettings,
    warnings: Counter[str],
) -> JsonObject:
    """Mapped properties override the native defaults; item properties form one content item."""
    properties = dict(defaults)
    item: JsonObject = {}
    currency: str | None = None
    value: object = None
    for name, source in mapping.properties:
        if source.attribute is None:
            converted = source.static
        else:
            raw = event.custom_attributes.get(source.attribute)
            if raw is None:
                continue
            converted = convert_property(name, raw) if name != "currency" else to_text(raw)
            if converted is None:
                warnings["invalid_property"] += 1
                continue
        if name in ITEM_PROPERTIES:
            item[name] = converted
        elif name == "currency":
            currency = str(converted)
        elif name == "value":
            value = converted
        else:
            properties[name] = converted
    if currency is not None or value is not None:
        _set_currency_and_value(
            properties,
            currency if currency is not None else _as_optional_str(properties.get("currency")),
            value if value is not None else properties.get("value"),
            warnings,
        )
    if item:
        properties["contents"] = [item]
        properties.setdefault("content_type", settings.content_type)
    return properties


def _as_optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None

"""Custom mappings: parsed and validated once at start-up, then matched per event."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from tiktok_connector.mapping.vocabulary import (
    CURRENCIES,
    EVENT_PROPERTIES,
    INTEGER_PROPERTIES,
    NUMBER_PROPERTIES,
    PRODUCT_ACTIONS,
)
from tiktok_connector.model.events import Event
from tiktok_connector.platform.errors import ConfigurationError
from tiktok_connector.platform.values import to_number, to_text, to_whole_number

MATCHABLE_EVENT_TYPES: Final = frozenset({"custom_event", "commerce_event", "screen_view"})
CUSTOM_EVENT_TYPES: Final = frozenset(
    {
        "navigation",
        "location",
        "search",
        "transaction",
        "user_content",
        "user_preference",
        "social",
        "other",
        "media",
        "attribution",
        "unknown",
    }
)
_ENTRY_KEYS: Final = frozenset({"match", "tiktok_event", "properties"})
_MATCH_KEYS: Final = frozenset(
    {"event_type", "event_name", "product_action", "custom_event_type", "attributes"}
)


@dataclass(frozen=True, slots=True)
class PropertySource:
    """Where a mapped property's value comes from: a custom attribute, or a static value."""

    attribute: str | None = None
    static: object = None


@dataclass(frozen=True, slots=True)
class CustomMapping:
    event_type: str
    tiktok_event: str
    event_name: str | None = None
    product_action: str | None = None
    custom_event_type: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    properties: tuple[tuple[str, PropertySource], ...] = ()

    def matches(self, event: Event) -> bool:
        if event.event_type != self.event_type:
            return False
        if self.event_name is not None and event.name != self.event_name:
            return False
        if self.product_action is not None and event.product_action != self.product_action:
            return False
        if self.custom_event_type is not None and event.custom_event_type != self.custom_event_type:
            return False
        attributes = event.custom_attributes  # text already: compared as strings
        return all(attributes.get(name) == expected for name, expected in self.attributes)


def find_custom_mapping(mappings: Sequence[CustomMapping], event: Event) -> CustomMapping | None:
    """The first mapping in list order that matches the event."""
    for mapping in mappings:
        if mapping.matches(event):
            return mapping
    return None


def attribute_text(value: object) -> str | None:
    """Attributes are compared as strings: non-blank strings as they are, numbers in decimal, JSON
    booleans as `true`/`false`; None for anything else (a list or an object)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return to_text(value)


def convert_property(name: str, value: object) -> object:
    """A mapped property value in the type TikTok wants, or None when it cannot be converted."""
    if name in NUMBER_PROPERTIES:
        return to_number(value)
    if name in INTEGER_PROPERTIES:
        return to_whole_number(value)
    if name == "currency":
        text = to_text(value)
        code = text.strip().upper() if text else None
        return code if code in CURRENCIES else None
    return to_text(value)


def parse_custom_mappings(text: str) -> tuple[CustomMapping, ...]:
    """Parse `CUSTOM_MAPPINGS`; any problem raises ConfigurationError naming the entry."""
    try:
        raw = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as error:
        entry = _entry_with_syntax_error(text)
        raise ConfigurationError(
            f"CUSTOM_MAPPINGS is not valid JSON: {error.msg} at position {error.pos}"
            + (f" (in {entry})" if entry else "")
        ) from None
    if not isinstance(raw, list):
        raise ConfigurationError("CUSTOM_MAPPINGS must be a JSON array of mappings")
    return tuple(_parse_entry(entry, f"CUSTOM_MAPPINGS[{index}]") for index, entry in enumerate(raw))


def _entry_with_syntax_error(text: str) -> str | None:
    """Name the array entry a JSON syntax error is in, so a long configuration points at the culprit."""
    decoder = json.JSONDecoder()
    position = _skip_whitespace(text, 0)
    if not text.startswith("[", position):
        return None
    position += 1
    index = 0
    while True:
        position = _skip_whitespace(text, position)
        if index == 0 and text.startswith("]", position):
            return None
        try:
            _, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return f"CUSTOM_MAPPINGS[{index}]"
        position = _skip_whitespace(text, position)
        if not text.startswith(",", position):
            # A missing delimiter or trailing text after this entry.
            return None if text.startswith("]", position) else f"CUSTOM_MAPPINGS[{index}]"
        position += 1
        index += 1


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\n\r":
        position += 1
    return position


def _parse_entry(entry: object, where: str) -> CustomMapping:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: must be an object with match, tiktok_event and properties")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key {unknown[0]!r}")
    tiktok_event = entry.get("tiktok_event")
    if not isinstance(tiktok_event, str) or tiktok_event not in EVENT_PROPERTIES:
        raise ConfigurationError(f"{where}.tiktok_event: unknown TikTok event {tiktok_event!r}")
    match = entry.get("match")
    if not isinstance(match, dict):
        raise ConfigurationError(f"{where}.match: must be an object")
    unknown = sorted(set(match) - _MATCH_KEYS)
    if unknown:
        raise ConfigurationError(f"{where}.match: unknown key {unknown[0]!r}")
    event_type = match.get("event_type")
    # Checked as a string first: a list or object here is unhashable and must not escape as TypeError.
    if not isinstance(event_type, str) or event_type not in MATCHABLE_EVENT_TYPES:
        raise ConfigurationError(
            f"{where}.match.event_type: {event_type!r} is not one of {sorted(MATCHABLE_EVENT_TYPES)}"
        )
    event_name = _optional_text(match, "event_name", f"{where}.match")
    product_action = _optional_text(match, "product_action", f"{where}.match")
    custom_event_type = _optional_text(match, "custom_event_type", f"{where}.match")
    if event_name is not None and event_type == "commerce_event":
        raise ConfigurationError(f"{where}.match.event_name: commerce events match on product_action")
    if product_action is not None and (
        event_type != "commerce_event" or product_action not in PRODUCT_ACTIONS
    ):
        raise ConfigurationError(
            f"{where}.match.product_action: {product_action!r} is not a product action of a commerce_event"
        )
    if custom_event_type is not None and (
        event_type != "custom_event" or custom_event_type not in CUSTOM_EVENT_TYPES
    ):
        raise ConfigurationError(
            f"{where}.match.custom_event_type: {custom_event_type!r} is not a custom event type"
        )
    return CustomMapping(
        event_type=event_type,
        tiktok_event=tiktok_event,
        event_name=event_name,
        product_action=product_action,
        custom_event_type=custom_event_type,
        attributes=_parse_attributes(match.get("attributes"), f"{where}.match.attributes"),
        properties=_parse_properties(entry.get("properties"), tiktok_event, f"{where}.properties"),
    )


def _optional_text(container: dict[str, object], key: str, where: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}.{key}: must be a non-empty string")
    return value


def _parse_attributes(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: must be an object of attribute name to value")
    pairs = []
    for name, value in raw.items():
        text = attribute_text(value)
        if text is None:
            raise ConfigurationError(f"{where}.{name}: must be a string, number or boolean")
        pairs.append((name, text))
    return tuple(pairs)


def _parse_properties(raw: object, tiktok_event: str, where: str) -> tuple[tuple[str, PropertySource], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: must be an object of TikTok property to source")
    allowed = EVENT_PROPERTIES[tiktok_event]
    sources = []
    for name, source in raw.items():
        if name not in allowed:
            raise ConfigurationError(
                f"{where}.{name}: {tiktok_event} does not take this property "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        if not isinstance(source, dict) or len(source) != 1 or not ({"attribute", "static"} & set(source)):
            raise ConfigurationError(f'{where}.{name}: must be {{"attribute": NAME}} or {{"static": VALUE}}')
        if "attribute" in source:
            attribute = source["attribute"]
            if not isinstance(attribute, str) or not attribute:
                raise ConfigurationError(f"{where}.{name}.attribute: must be a non-empty string")
            sources.append((name, PropertySource(attribute=attribute)))
        else:
            static = convert_property(name, source["static"])
            if static is None:
                raise ConfigurationError(f"{where}.{name}.static: {source['static']!r} is not a valid {name}")
            sources.append((name, PropertySource(static=static)))
    return tuple(sources)

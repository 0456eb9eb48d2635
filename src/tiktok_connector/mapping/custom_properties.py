"""The properties a matched custom mapping sets, over the native ones (a commerce event's are the default).

Custom attributes are text in the model; a mapping converts each one to the type its TikTok property
takes (`value` and `price` numbers, `quantity` a whole number, `currency` a listed code).
"""

from tiktok_connector.mapping.custom import CustomMapping, convert_property
from tiktok_connector.mapping.field_types import Scope
from tiktok_connector.mapping.vocabulary import CURRENCIES, ITEM_PROPERTIES
from tiktok_connector.model.events import Event
from tiktok_connector.model.tiktok import JsonObject
from tiktok_connector.platform.values import to_text


def apply_mapped_properties(
    mapping: CustomMapping, event: Event, defaults: JsonObject, scope: Scope
) -> JsonObject:
    """Mapped properties override the native defaults; item properties form one content item."""
    properties = dict(defaults)
    item: JsonObject = {}
    currency: str | None = None
    value: object = None
    attributes = event.custom_attributes
    for name, source in mapping.properties:
        if source.attribute is None:
            converted = source.static
        else:
            if source.attribute not in attributes:
                continue
            converted = _converted(name, attributes[source.attribute])
            if converted is None:
                scope.warn("invalid_property")
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
            scope,
        )
    if item:
        properties["contents"] = [item]
        # The ids follow the items they name.
        if "content_id" in item:
            properties["content_ids"] = [item["content_id"]]
        else:
            properties.pop("content_ids", None)
        properties.setdefault("content_type", scope.settings.content_type)
    return properties


def _converted(name: str, text: str | None) -> object:
    """An attribute in its property's type; None (counted) when it has none. The currency is checked
    against TikTok's list together with the value, below."""
    if text is None:  # a list or an object: no property takes it
        return None
    return to_text(text) if name == "currency" else convert_property(name, text)


def _set_currency_and_value(
    properties: JsonObject, currency: str | None, value: object, scope: Scope
) -> None:
    """A currency TikTok does not list would fail the whole request: leave it out with its value."""
    if currency is not None:
        code = currency.strip().upper()
        if code not in CURRENCIES:
            scope.warn("unsupported_currency")
            properties.pop("currency", None)
            properties.pop("value", None)
            return
        properties["currency"] = code
    if value is not None:
        properties["value"] = value


def _as_optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None

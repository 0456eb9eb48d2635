"""Readers both input parsers share (Webhook batch, Firehose request): one behaviour, one place."""

import hashlib
import json

from tiktok_connector.model.events import Product
from tiktok_connector.platform.values import to_flag


def object_or_empty(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def custom_flags(value: object) -> dict[str, str]:
    """Flags as strings: a string value, or the first element of a list (native SDKs send lists)."""
    if not isinstance(value, dict):
        return {}
    return {key: flag for key, raw in value.items() if (flag := to_flag(raw)) is not None}


def read_products(items: list[object] | None) -> list[Product]:
    """The products both protocols send (`id`, `name`, `category`, `price`, `quantity`)."""
    return [
        Product(
            id=item.get("id"),
            name=item.get("name"),
            category=item.get("category"),
            price=item.get("price"),
            quantity=item.get("quantity"),
        )
        for item in items or ()
        if isinstance(item, dict)
    ]


def derived_event_id(raw: dict[str, object], mpid: str | None) -> str:
    """An event without ids still needs one that is the same when mParticle resends it."""
    canonical = json.dumps([mpid, raw], sort_keys=True, separators=(",", ":"), default=str)
    return "mp-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]

"""The floor: the least work that turns these batches into TikTok request bodies, in a plain loop.

Parse the JSON, pick the three identities, hash them (SHA-256), add the batch's match-quality fields
(the device's locale, the hashed first and last name from mParticle's reserved user attributes), build
each TikTok event dict (items with their brand, the products' ids as `content_ids`), split into requests
of at most 1,000 events and serialise. It knows the benchmark's input shape and skips
everything a connector must do for arbitrary input (validation, lenient values, phone parsing,
custom mappings, skip reasons, warnings, logs, metrics, the HTTP call), so the project can approach
it but not beat it.

The floor uses the JSON library the project ships (orjson), so that the comparison measures the
project's own work rather than a choice of library; the standard library's `json` floor is shown
beside it for information.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

_NATIVE: Final = {
    "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist",
    "purchase": "PlaceAnOrder",
    "checkout": "InitiateCheckout",
    "view_detail": "ViewContent",
}
_MAX_EVENTS: Final = 1000

Loads = Callable[[str], Any]
Dumps = Callable[[Any], bytes]


def orjson_codec() -> tuple[Loads, Dumps]:
    """The floor's JSON: orjson, as the connector parses request bodies and serialises TikTok's."""
    import orjson

    return orjson.loads, orjson.dumps


def stdlib_codec() -> tuple[Loads, Dumps]:
    """The standard library's `json`, for information (what the floor costs without orjson)."""

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    return json.loads, dumps


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hashed_name(text: str) -> str:
    """A name as TikTok's advanced matching takes it: white space removed, lower-cased, SHA-256."""
    return _sha256("".join(text.split()).lower())


def floor_requests(body: str, pixel_id: str, loads: Loads, dumps: Dumps) -> list[bytes]:
    """TikTok request bodies for one Webhook batch of native commerce events."""
    batch = loads(body)
    identities = {item["identity_type"]: item["identity"] for item in batch["user_identities"]}
    device = batch["device_info"]
    attributes = {name.lower(): value for name, value in batch["user_attributes"].items()}
    user = {
        "email": _sha256(identities["email"].strip().lower()),
        "phone": _sha256(identities["mobile_number"].strip()),  # already E.164 in this workload
        "external_id": _sha256(identities["customer_id"].strip()),
        "ip": batch["ip"],
        "user_agent": device["http_header_user_agent"],
        "locale": f"{device['locale_language']}-{device['locale_country']}",
        "first_name": _hashed_name(attributes["$firstname"]),
        "last_name": _hashed_name(attributes["$lastname"]),
    }
    events = []
    for event in batch["events"]:
        data = event["data"]
        action = data["product_action"]
        flags = data["custom_flags"]
        properties: dict[str, Any] = {
            "contents": [
                {
                    "price": product["price"],
                    "quantity": product["quantity"],
                    "content_id": str(product["id"]),
                    "content_category": product["category"],
                    "content_name": product["name"],
                    "brand": product["brand"],
                }
                for product in action["products"]
            ],
            "content_ids": [str(product["id"]) for product in action["products"]],
            "content_type": "product",
            "currency": data["currency_code"],
            "value": action["total_amount"],
        }
        if action["action"] == "purchase":
            properties["order_id"] = action["transaction_id"]
        events.append(
            {
                "event": _NATIVE[action["action"]],
                "event_time": data["timestamp_unixtime_ms"] // 1000,
                "event_id": data["source_message_id"],
                "user": {**user, "ttclid": flags["TikTok.Callback"]},
                "page": {"url": flags["TikTok.URL"], "referrer": flags["TikTok.Referrer"]},
                "properties": properties,
            }
        )
    return [
        dumps(
            {"event_source": "web", "event_source_id": pixel_id, "data": events[start : start + _MAX_EVENTS]}
        )
        for start in range(0, len(events), _MAX_EVENTS)
    ]

"""Realistic mParticle Webhook batches: commerce events with two products, three identities, flags."""

import json
import random
import uuid
from typing import Any, Final

# The five product actions the connector maps natively to TikTok events, in a shop's usual proportions.
_ACTIONS: Final = ("view_detail",) * 4 + ("add_to_cart",) * 3 + ("add_to_wishlist", "checkout", "purchase")
_CATEGORIES: Final = ("apparel", "footwear", "outdoor", "accessories")
_NAMES: Final = ("Trail Running Shoe", "Sport Socks", "Rain Jacket", "Merino Beanie", "Hiking Pole")
_BATCH_START_MS: Final = 1_741_954_000_000


def commerce_event(rng: random.Random, index: int) -> dict[str, Any]:
    """One `commerce_event` as mParticle's outbound JSON batch carries it (mParticle's JSON reference)."""
    action = _ACTIONS[index % len(_ACTIONS)]
    products: list[dict[str, Any]] = [
        {
            "id": str(1_000_000 + rng.randrange(9_000_000)),
            "name": rng.choice(_NAMES),
            "brand": "Acme",
            "category": rng.choice(_CATEGORIES),
            "variant": f"blue-{rng.randrange(36, 48)}",
            "position": position,
            "price": round(rng.uniform(5, 150), 2),
            "quantity": rng.randrange(1, 4),
            "custom_attributes": {"size": str(rng.randrange(36, 48))},
        }
        for position in (1, 2)
    ]
    total = round(sum(product["price"] * product["quantity"] for product in products), 2)
    product_action: dict[str, Any] = {"action": action, "total_amount": total, "products": products}
    if action == "purchase":
        product_action |= {
            "transaction_id": f"ORD-2026-{index:07d}",
            "tax_amount": round(total * 0.08, 2),
            "shipping_amount": 4.0,
        }
    timestamp = _BATCH_START_MS + index * 1_000
    return {
        "event_type": "commerce_event",
        "data": {
            "product_action": product_action,
            "currency_code": "USD",
            "is_non_interactive": False,
            "custom_attributes": {"checkout_variant": "one-page"},
            "custom_flags": {
                "TikTok.URL": f"https://shop.example.com/p/{products[0]['id']}",
                "TikTok.Referrer": "https://shop.example.com/search?q=shoes",
                "TikTok.Callback": "E.C.P.v3fQ2RHacdksKfofPmlyuStIIHJ4Af1tKYxF9zz2c2PLx1Oaw15oHpcfl5AH",
            },
            "event_id": rng.randrange(2**62, 2**63),
            "source_message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "session_id": 6_051_321_688_317_951_794,
            "session_uuid": "30270c11-05fb-4cba-9a3e-0eb364f06775",
            "session_start_unixtime_ms": _BATCH_START_MS,
            "event_start_unixtime_ms": timestamp,
            "timestamp_unixtime_ms": timestamp,
        },
    }


def _batch_envelope(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "events": events,
        "device_info": {
            "platform": "web",
            "http_header_user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.3 Safari/605.1.15",
            "screen_width": 1512,
            "screen_height": 982,
            "locale_language": "en",
            "locale_country": "US",
        },
        "application_info": {"application_name": "Example Shop Web", "application_version": "4.12.0"},
        "user_attributes": {"$firstname": "Jane", "$lastname": "Doe", "loyalty_tier": "gold"},
        "user_identities": [
            {
                "identity_type": "customer_id",
                "identity": "CUST-10042",
                "timestamp_unixtime_ms": 1741000000000,
            },
            {
                "identity_type": "email",
                "identity": "Jane.Doe@Example.com",
                "timestamp_unixtime_ms": 1741000000000,
            },
            {
                "identity_type": "mobile_number",
                "identity": "+14155550123",
                "timestamp_unixtime_ms": 1741000000000,
            },
        ],
        "source_request_id": "40718bcf-c6a9-46da-85f4-5d40b962872d",
        "source_info": {"channel": "javascript", "partner": None, "is_historical": False},
        "environment": "production",
        "schema_version": 2,
        "mpid": 7_346_244_611_012_968_789,
        "mp_deviceid": "447168ad-8ba5-49b3-8d6b-7e6f91b40f3f",
        "ip": "203.0.113.24",
        "batch_id": 3_619_462_417_291_384_522,
        "timestamp_unixtime_ms": _BATCH_START_MS + 999_000,
    }


def batch_body(event_count: int, seed: int = 7) -> str:
    """One user's batch of `event_count` commerce events, as compact JSON (what mParticle POSTs)."""
    rng = random.Random(seed)
    events = [commerce_event(rng, index) for index in range(event_count)]
    return json.dumps(_batch_envelope(events), separators=(",", ":"))


def largest_body(limit: int, seed: int = 7) -> tuple[str, int]:
    """The batch with the most events whose UTF-8 body is at most `limit` bytes, and its event count."""
    rng = random.Random(seed)
    envelope = _batch_envelope([])
    overhead = len(json.dumps(envelope, separators=(",", ":")).encode("utf-8"))
    encoded: list[str] = []
    size = overhead
    while True:
        event = json.dumps(commerce_event(rng, len(encoded)), separators=(",", ":"))
        added = len(event.encode("utf-8")) + (1 if encoded else 0)  # the comma between events
        if size + added > limit:
            break
        encoded.append(event)
        size += added
    head, tail = json.dumps(envelope, separators=(",", ":")).split('"events":[]', 1)
    body = f'{head}"events":[{",".join(encoded)}]{tail}'
    assert len(body.encode("utf-8")) == size <= limit
    return body, len(encoded)

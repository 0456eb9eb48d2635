"""The one internal model both mParticle protocols (Webhook batch, Firehose) are parsed into.

Values that mParticle documents loosely (amounts, quantities, ids) are kept as received and
converted where they are used, so each mapping rule decides how strict to be.
"""

from dataclasses import dataclass, field
from typing import Literal

IdentityEncoding = Literal["raw", "sha256"]


@dataclass(frozen=True, slots=True)
class Identity:
    """One user identity of a canonical mParticle type (`email`, `customer_id`, `other_id_2`, ...)."""

    value: str
    encoding: IdentityEncoding = "raw"

    def __repr__(self) -> str:  # personal data: never printed by accident
        return f"Identity(encoding={self.encoding!r}, value=<redacted>)"


@dataclass(frozen=True, slots=True)
class Product:
    id: object = None
    name: object = None
    category: object = None
    price: object = None
    quantity: object = None


@dataclass(slots=True)
class Event:
    """One mParticle event. `event_type` uses the Webhook names (`commerce_event`, `custom_event`, ...)."""

    event_type: str
    event_id: str | None = None
    """The TikTok `event_id`: stable across retries of the same event (SPEC 3.2)."""
    source_event_id: str | None = None
    """mParticle's own id of the event (int64 as a decimal string, or the Firehose UUID)."""
    timestamp_ms: int | None = None
    name: str | None = None
    """A custom event's `event_name` or a screen view's `screen_name`."""
    custom_event_type: str | None = None
    product_action: str | None = None
    transaction_id: object = None
    total_amount: object = None
    currency_code: object = None
    products: list[Product] = field(default_factory=list)
    custom_attributes: dict[str, object] = field(default_factory=dict)
    custom_flags: dict[str, str] = field(default_factory=dict)
    invalid_reason: str | None = None
    """Set when the event could not be read; it is then skipped as `invalid_event`."""


@dataclass(slots=True)
class Batch:
    """One user's events with the context shared by all of them."""

    events: list[Event]
    identities: dict[str, Identity] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    batch_id: str | None = None
    source_request_id: str | None = None
    timestamp_ms: int | None = None

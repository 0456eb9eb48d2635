"""The one internal model both mParticle protocols (Webhook batch, Firehose) are parsed into.

Every value is typed here: the parsers read each one once, at the edge, with the same readers on both
routes (numbers as int/float, ids and names as str, flags as text, identities under their canonical
type). A value that was present but could not be read is left out and named in `Event.warnings`, so
the mapper only copies typed values and counts what the parsers refused.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

IdentityEncoding = Literal["raw", "sha256"]


@dataclass(frozen=True, slots=True)
class Identity:
    """One user identity of a canonical mParticle type (`email`, `customer_id`, `other_id_2`, ...)."""

    value: str
    encoding: IdentityEncoding = "raw"

    def __repr__(self) -> str:  # personal data: never printed by accident
        return f"Identity(encoding={self.encoding!r}, value=<redacted>)"


@dataclass(slots=True)
class Product:
    """One product of a product action; each attribute is filled by its row in `mapping.fields`."""

    id: str | None = None
    name: str | None = None
    category: str | None = None
    price: int | float | None = None
    quantity: int | None = None
    brand: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The user's consent: purpose (lower-cased) → consented, for GDPR purposes and CCPA's data sale."""

    gdpr: Mapping[str, bool] = MappingProxyType({})
    ccpa: Mapping[str, bool] = MappingProxyType({})


NO_CONSENT = ConsentState()
"""A batch without consent state (one shared, read-only instance)."""


@dataclass(slots=True)
class Event:
    """One mParticle event. `event_type` uses the Webhook names (`commerce_event`, `custom_event`, ...).

    The parsers give the first five values positionally (in this order), the rest as they read them."""

    event_type: str
    event_id: str | None = None
    """The TikTok `event_id`: the client's message id when present, so it is stable across retries."""
    source_event_id: str | None = None
    """mParticle's own id of the event (int64 as a decimal string, or the Firehose UUID)."""
    custom_attributes: dict[str, str | None] = field(default_factory=dict)
    """Attributes as text (numbers in decimal, booleans `true`/`false`); None for a list or object."""
    custom_flags: dict[str, str] = field(default_factory=dict)
    """Flags by lower-cased name, trimmed, blank ones left out (a list's first element)."""
    timestamp_ms: int | None = None
    """A plausible Unix time in milliseconds: the event's own, else its batch's."""
    name: str | None = None
    """A custom event's `event_name` or a screen view's `screen_name`."""
    custom_event_type: str | None = None
    product_action: str | None = None
    transaction_id: str | None = None
    total_amount: int | float | None = None
    currency_code: str | None = None
    """Trimmed and upper-cased; whether TikTok lists it is a mapping rule."""
    products: list[Product] = field(default_factory=list)
    warnings: tuple[str, ...] = ()
    """Values the parser could not read (`invalid_price`, ...), counted when the event is forwarded."""
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
    """A plausible Unix time in milliseconds, or None."""
    user_attributes: dict[str, str] = field(default_factory=dict)
    """User attributes by lower-cased name (`$firstname`), as text; list values are left out."""
    locale_language: str | None = None
    """The device's language, lower-cased (`en`)."""
    locale_country: str | None = None
    """The device's country, upper-cased (`US`; Firehose's `en_US` is read as `US`)."""
    consent: ConsentState = NO_CONSENT

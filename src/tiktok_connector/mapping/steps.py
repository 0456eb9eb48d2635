"""Formatting steps of the field tables: a present typed value → what TikTok receives (None: left out).

Each step's docstring is its entry in the generated mapping table (`docs/mapping-fields.md`).
"""

import time

from tiktok_connector.mapping.field_types import Scope
from tiktok_connector.mapping.identities import TikTokIdentifier, hashed_identifier
from tiktok_connector.mapping.urls import without_email_parameters
from tiktok_connector.mapping.vocabulary import CURRENCIES
from tiktok_connector.model.events import Identity


def seconds(timestamp_ms: int, scope: Scope) -> int:
    """Milliseconds → whole seconds."""
    return timestamp_ms // 1000


def now_seconds() -> int:
    """The current time in seconds."""
    return int(time.time())


def _hashed(kind: TikTokIdentifier, identity: Identity, scope: Scope) -> str | None:
    hashed = hashed_identifier(kind, identity, scope.settings.default_phone_region)
    if hashed is None:
        scope.warn(f"invalid_{kind}")
    return hashed


def hashed_email(identity: Identity, scope: Scope) -> str | None:
    """Trimmed, lower-cased, SHA-256 (a 64-hex value passes lower-cased); else `invalid_email`."""
    return _hashed("email", identity, scope)


def hashed_phone(identity: Identity, scope: Scope) -> str | None:
    """E.164 with `+` (Default Phone Region for national numbers), SHA-256; else `invalid_phone`."""
    return _hashed("phone", identity, scope)


def hashed_external_id(identity: Identity, scope: Scope) -> str | None:
    """Trimmed, SHA-256 (a 64-hex value passes lower-cased); else `invalid_external_id`."""
    return _hashed("external_id", identity, scope)


def click_id(callback: str, scope: Scope) -> str | None:
    """Only a TikTok click id (starts with `E.C.P`); anything else is left out, `invalid_ttclid`."""
    if callback.startswith("E.C.P"):
        return callback
    scope.warn("invalid_ttclid")
    return None


def without_emails(url: str, scope: Scope) -> str:
    """Query parameters holding an email address removed, `email_removed_from_url`; else as sent."""
    if "@" not in url and "%40" not in url:
        return url  # the usual case, without a call
    cleaned, removed = without_email_parameters(url)
    if removed:
        scope.warn("email_removed_from_url")
    return cleaned


def page_url(url: str, scope: Scope) -> str | None:
    """Must start with `http://` or `https://`; then as `without_emails`."""
    if not url[:8].lower().startswith(("http://", "https://")):
        return None
    return url if "@" not in url and "%40" not in url else without_emails(url, scope)


def listed_currency(code: str, scope: Scope) -> str | None:
    """Only a code on TikTok's currency list; else left out with `value`, `unsupported_currency`."""
    if code in CURRENCIES:
        return code
    scope.warn("unsupported_currency")
    return None


def value_with_listed_currency(value: float, scope: Scope) -> float | None:
    """Left out when the event's currency is not on TikTok's list (TikTok would refuse the request)."""
    code = scope.event.currency_code
    return value if code is None or code in CURRENCIES else None


def purchase_only(order_id: str, scope: Scope) -> str | None:
    """Only on `purchase` actions."""
    return order_id if scope.event.product_action == "purchase" else None

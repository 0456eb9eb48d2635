"""Formatting steps of the field tables: a present typed value → what TikTok receives (None: left out).

Each step's docstring is its entry in the generated mapping table (`docs/mapping-fields.md`).
"""

import hashlib
import time
import unicodedata
from collections.abc import Callable
from typing import Any, Final

from tiktok_connector.mapping.field_types import Scope
from tiktok_connector.mapping.identities import TikTokIdentifier, hashed_identifier, is_sha256_hex
from tiktok_connector.mapping.urls import query_parameter, without_email_parameters
from tiktok_connector.mapping.vocabulary import CURRENCIES
from tiktok_connector.model.events import ConsentState, Identity, Product

CLICK_ID_PREFIX: Final = "E.C.P"
"""TikTok's click ids (`ttclid`) start with it; anything else is not one and is never sent."""
CCPA_DATA_SALE: Final = "data_sale_opt_out"
"""mParticle's CCPA consent purpose: `consented: true` means the user opted out of the sale of their data."""


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


def click_id(flags: tuple[str | None, ...], scope: Scope) -> str | None:
    """`TikTok.Callback` if it starts with `E.C.P`, else URL's `ttclid` by that rule, else `invalid_ttclid`.

    A value given that is not a TikTok click id is never sent (no dummy), and counted."""
    callback, url = flags
    if callback is not None:
        if callback.startswith(CLICK_ID_PREFIX):
            return callback
        scope.warn("invalid_ttclid")
    from_url = query_parameter(url, "ttclid") if url is not None else None
    if from_url is None:
        return None
    if from_url.startswith(CLICK_ID_PREFIX):
        return from_url
    scope.warn("invalid_ttclid")
    return None


def locale(language: str, scope: Scope) -> str:
    """BCP 47: the language, then `-` and the device's country when it has one (`en` + `US` → `en-US`)."""
    country = scope.batch.locale_country
    return f"{language}-{country}" if country is not None else language


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hashed_compact(text: str, scope: Scope) -> str | None:
    """White space removed, lower-cased, SHA-256 (a 64-hex value passes lower-cased); empty: left out."""
    # TikTok Events API 2.0 docs: first name, last name and zip code are normalised and SHA-256 hashed;
    # this is the normalisation of Segment's TikTok Conversions destination (`formatter.ts`, `formatString`).
    compact = "".join(text.split()).lower()
    if not compact:
        return None
    return compact if is_sha256_hex(compact) else _sha256(compact)


def address_part(text: str, scope: Scope) -> str | None:
    """Accents removed (NFKD), only ASCII letters and digits kept, lower-cased, not hashed; else left out."""
    # TikTok Events API 2.0 docs: city, state and country are sent normalised but not hashed; as Segment's
    # TikTok Conversions destination (`formatter.ts`, `formatAddress`), which keeps [A-Za-z0-9] lower-cased,
    # with accented letters decomposed first so that `Zürich` becomes `zurich`, not `zrich`.
    decomposed = text if text.isascii() else unicodedata.normalize("NFKD", text)
    kept = "".join(character for character in decomposed if character.isascii() and character.isalnum())
    return kept.lower() or None


def limited_data_use(consent: ConsentState, scope: Scope) -> bool | None:
    """`consent`: true if the user opted out of the sale of their data (CCPA); `always`: true; else left out.

    The mode is the `LIMITED_DATA_USE` setting; left out, TikTok applies no limit."""
    mode = scope.settings.match.limited_data_use
    if mode == "consent":
        return True if consent.ccpa.get(CCPA_DATA_SALE) is True else None
    return True if mode == "always" else None


def content_ids(products: list[Product], scope: Scope) -> list[str] | None:
    """The products' ids as strings, in order (the `content_id`s of the items)."""
    ids = [product.id for product in products if product.id is not None]
    return ids or None


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


INLINE_STEPS: Final[dict[Callable[[Any, Scope], Any], str]] = {
    seconds: "{value} // 1000",
    click_id: f"{{value}}[0] if {{value}}[0] is not None and {{value}}[0].startswith({CLICK_ID_PREFIX!r}) "
    "else {call}({value}, scope)",
    page_url: '{value} if {value}.startswith("https://") and "@" not in {value} and "%40" not in {value} '
    "else {call}({value}, scope)",
    without_emails: '{value} if "@" not in {value} and "%40" not in {value} else {call}({value}, scope)',
    listed_currency: "{value} if {value} in CURRENCIES else {call}({value}, scope)",
    value_with_listed_currency: "{value} if scope.event.currency_code in CURRENCIES "
    "else {call}({value}, scope)",
    purchase_only: "{value} if scope.event.product_action == 'purchase' else None",
}
"""Per step: an expression equal to `call(value, scope)` for the usual case, written inline by the plans
(`mapping.codegen`) to skip the call; anything else goes to the step. `STEP_GLOBALS` are the names
they use."""
STEP_GLOBALS: Final = {"CURRENCIES": CURRENCIES}

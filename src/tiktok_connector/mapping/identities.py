"""Identity types, normalisation and SHA-256 hashing of the user's identifiers (TikTok Events API 2.0)."""

import hashlib
import re
from functools import lru_cache
from typing import Final, Literal

import phonenumbers

from tiktok_connector.model.events import Identity

TikTokIdentifier = Literal["email", "phone", "external_id"]

IDENTITY_TYPES: Final = (
    "other",
    "customer_id",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
    "email",
    "alias",
    "facebook_custom_audience_id",
    *(f"other_id_{n}" for n in range(2, 11)),
    "mobile_number",
    "phone_number_2",
    "phone_number_3",
)
"""mParticle's identity types, as the Webhook batch spells them."""

# Other spellings, after lower-casing and turning spaces and dashes into underscores:
# the UI labels ("Customer ID", "Other 2"), the Firehose names (`customer`, `other2`).
_ALIASES: Final[dict[str, str]] = {
    "customer": "customer_id",
    "customerid": "customer_id",
    "other_1": "other",
    "phone": "mobile_number",
    "mobile": "mobile_number",
    "phone_number": "mobile_number",
    "email_address": "email",
    "phone_2": "phone_number_2",
    "phone_3": "phone_number_3",
    **{f"other{n}": f"other_id_{n}" for n in range(2, 11)},
    **{f"other_{n}": f"other_id_{n}" for n in range(2, 11)},
}
_SEPARATORS: Final = re.compile(r"[\s\-]+")
_SHA256_HEX: Final = re.compile(r"[0-9a-fA-F]{64}")


@lru_cache(maxsize=256)
def canonical_identity_type(name: str) -> str | None:
    """Return the canonical identity type for a key, UI label or Firehose name; None if unknown."""
    key = _SEPARATORS.sub("_", name.strip().lower())
    key = _ALIASES.get(key, key)
    return key if key in IDENTITY_TYPES else None


def is_sha256_hex(value: str) -> bool:
    return len(value) == 64 and _SHA256_HEX.fullmatch(value) is not None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_email(value: str) -> str | None:
    email = value.strip().lower()
    return email or None


def normalize_external_id(value: str) -> str | None:
    external_id = value.strip()
    return external_id or None


def normalize_phone(value: str, default_region: str) -> str | None:
    """E.164 with the leading `+`; None for a number that cannot be parsed (never guessed)."""
    text = value.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def hashed_identifier(kind: TikTokIdentifier, identity: Identity, default_region: str) -> str | None:
    """The value TikTok receives for one identifier: SHA-256 hex of the normalised value.

    A value that already is a SHA-256 hex digest is passed through lower-cased, not hashed
    again. A value the sender declared hashed but that is not a digest is dropped.
    """
    value = identity.value
    if is_sha256_hex(value.strip()):
        return value.strip().lower()
    if identity.encoding != "raw":
        return None
    if kind == "email":
        normalized = normalize_email(value)
    elif kind == "phone":
        return _hashed_phone(value, default_region)
    else:
        normalized = normalize_external_id(value)
    return _sha256(normalized) if normalized else None


_PHONES_KEPT: Final = 4096
_phones: dict[bytes, str | None] = {}
"""Hashed phone numbers by the SHA-256 of (region, number as sent): digests only, never a number."""


def _hashed_phone(value: str, default_region: str) -> str | None:
    """The SHA-256 of the number's E.164 form, parsed once per container for a returning number.

    Parsing with phonenumbers costs ~13 µs, most of a one-event batch's mapping; the SHA-256 of what was
    sent is ~0.5 µs. The cache is keyed and filled with digests, so it holds no phone number, and is
    emptied when full.
    """
    key = hashlib.sha256(f"{default_region}\x00{value}".encode("utf-8", "surrogatepass")).digest()
    try:
        return _phones[key]
    except KeyError:
        pass
    normalized = normalize_phone(value, default_region)
    hashed = _sha256(normalized) if normalized else None
    if len(_phones) >= _PHONES_KEPT:
        _phones.clear()
    _phones[key] = hashed
    return hashed

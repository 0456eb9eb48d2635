"""Masking of TikTok's free-text error messages before they are stored or logged.

TikTok words its messages itself and may quote a value it refused: an email address or a phone number
in the clear would then reach the dead-letter queue. Anything that looks like one is replaced, erring
on the side of masking too much (a long number such as a timestamp is masked as a phone number).
"""

import re
from typing import Final

EMAIL_MASK: Final = "<email>"
PHONE_MASK: Final = "<phone>"
_MIN_PHONE_DIGITS: Final = 7

# Something@something, also percent-encoded (`%40`) as in a quoted URL; quotes and brackets end it.
_EMAIL: Final = re.compile(r"""[^\s@"'<>()\[\]{},;:]+(?:@|%40)[^\s@"'<>()\[\]{},;:]+""", re.IGNORECASE)
# A run of digits with the separators phone numbers are written with, not inside a longer word.
_PHONE: Final = re.compile(r"(?<!\w)\+?\(?\d[\d\s().\-/]*\d(?![\w])")


def mask_personal_data(text: str) -> str:
    """`text` with email addresses and phone-like numbers (7 digits or more) replaced by placeholders."""
    masked = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(_phone_or_kept, masked)


def _phone_or_kept(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(character.isdigit() for character in found)
    return found if digits < _MIN_PHONE_DIGITS else PHONE_MASK

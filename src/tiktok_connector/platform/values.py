"""Lenient readers for the loosely typed values mParticle sends (numbers as strings, int64 ids).

Each takes a decoded JSON value and returns the typed value, or None when it cannot be read. The common
case (the type mParticle documents) is tested first: these run once per value of every event.
"""

import math
import re
from typing import Final

_INTEGER_TEXT: Final = re.compile(r"[+-]?\d{1,20}")
MAX_AMOUNT: Final = 1e15
"""Amounts and quantities beyond this are not real orders; sent, they would fail TikTok's whole request."""
_DECIMAL_TEXT: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def to_int64(value: object) -> int | None:
    """An int64 given as a JSON integer or a decimal string, never through a float."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text):
            return int(text)
    return None


def to_number(value: object) -> int | float | None:
    """A finite number or numeric string within ±1e15 (MAX_AMOUNT); None for anything else (booleans too)."""
    number: int | float
    if type(value) is float or type(value) is int:  # a JSON boolean's type is bool: refused
        number = value
    elif type(value) is str:
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text):
            number = int(text)
        elif _DECIMAL_TEXT.fullmatch(text):
            number = float(text)
        else:
            return None
    else:
        return None
    # NaN fails both comparisons, infinities the range: only finite amounts pass.
    return number if -MAX_AMOUNT <= number <= MAX_AMOUNT else None


def to_whole_number(value: object) -> int | None:
    """An integer, or a number/numeric string with no fractional part; None otherwise."""
    if type(value) is int:
        return value if -MAX_AMOUNT <= value <= MAX_AMOUNT else None
    number = to_number(value)
    if number is None:
        return None
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def to_text(value: object) -> str | None:
    """A non-empty string form of an id or name: strings as they are, numbers in decimal."""
    if type(value) is str:
        return value if value.strip() else None
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def to_present_text(value: object) -> str | None:
    """A non-blank string, as it is (an IP address, a user agent); None for anything else."""
    return value if isinstance(value, str) and value.strip() else None


def to_currency_code(value: object) -> str | None:
    """A currency code as text, trimmed and upper-cased (`usd` → `USD`)."""
    text = value if type(value) is str else to_text(value)
    return text.strip().upper() or None if text is not None else None


def to_flag(value: object) -> str | None:
    """A custom flag value: a string, or a list whose first element is used (native SDKs)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return to_text(value)
    return None

"""Lenient readers for the loosely typed values mParticle sends (numbers as strings, int64 ids)."""

import math
import re
from typing import Final

_INTEGER_TEXT: Final = re.compile(r"[+-]?\d{1,20}")
MAX_AMOUNT: Final = 1e15
"""Amounts and quantities beyond this are not real orders; sent, they would fail TikTok's whole request."""
_DECIMAL_TEXT: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def to_int64(value: object) -> int | None:
    """An int64 given as a JSON integer or a decimal string, never through a float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text):
            return int(text)
    return None


def to_number(value: object) -> int | float | None:
    """A finite JSON number or numeric string within ±MAX_AMOUNT; None for anything else (booleans too)."""
    number: int | float
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text):
            number = int(text)
        elif _DECIMAL_TEXT.fullmatch(text):
            number = float(text)
        else:
            return None
    else:
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number if -MAX_AMOUNT <= number <= MAX_AMOUNT else None


def to_whole_number(value: object) -> int | None:
    """An integer, or a number/numeric string with no fractional part; None otherwise."""
    number = to_number(value)
    if number is None:
        return None
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def to_text(value: object) -> str | None:
    """A non-empty string form of an id or name: strings as they are, numbers in decimal."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def to_flag(value: object) -> str | None:
    """A custom flag value: a string, or a list whose first element is used (native SDKs)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return to_text(value)
    return None

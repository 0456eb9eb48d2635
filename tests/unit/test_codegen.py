"""The code written from the field tables: its inline fast paths give exactly what the functions give."""

import math
from typing import Any

import pytest

from tiktok_connector.mapping.codegen import INLINE_READS, compiled, read_expression

# Every kind of decoded JSON value, and the edges of each reader's fast path.
VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -0.0,
    1,
    -7,
    2**63,
    10**15,
    10**15 + 1,
    -(10**15),
    -(10**15) - 1,
    1e15,
    1.0000000000000002e15,
    -1e15,
    12.5,
    3.0,
    math.inf,
    -math.inf,
    math.nan,
    "",
    " ",
    "\t\n",
    "abc",
    " abc ",
    "12",
    " 12.50 ",
    "1e3",
    "nan",
    "USD",
    [],
    ["a"],
    {},
    {"a": 1},
]


@pytest.mark.parametrize("read", list(INLINE_READS), ids=lambda read: read.__name__)
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_an_inline_read_gives_what_its_reader_gives(read: Any, value: Any) -> None:
    inline, _ = compiled(
        ["def inline(value):", f"    return {read_expression(read, 'call')}"], {"call": read}, "inline"
    )

    expected, got = read(value), inline(value)

    assert type(got) is type(expected)
    assert got == expected or (got is not None and math.isnan(got) and math.isnan(expected))


def test_a_reader_without_an_inline_form_is_called() -> None:
    def upper(value: object) -> str:
        return str(value).upper()

    assert read_expression(upper, "upper", "text") == "upper(text)"

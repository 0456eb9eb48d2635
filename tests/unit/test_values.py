"""Lenient readers for mParticle's loosely typed values (int64 as a number or a string, amounts)."""

import math

import pytest

from tiktok_connector.platform.values import to_flag, to_int64, to_number, to_text, to_whole_number

BEYOND_FLOAT = 2**53 + 1  # 9007199254740993: a float would round it to ...992


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (BEYOND_FLOAT, BEYOND_FLOAT),
        (str(BEYOND_FLOAT), BEYOND_FLOAT),
        ("5333365338074280876", 5333365338074280876),
        ("-6518616552181726857", -6518616552181726857),
        (" 42 ", 42),
        (0, 0),
        ("+7", 7),
    ],
)
def test_to_int64_reads_numbers_and_decimal_strings_exactly(raw: object, expected: int) -> None:
    result = to_int64(raw)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("raw", [None, True, False, 1.5, 1e18, "1.5", "abc", "", "0x10", [], {}, "1 2"])
def test_to_int64_rejects_anything_but_an_integer(raw: object) -> None:
    assert to_int64(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (25, 25),
        (25.5, 25.5),
        ("25", 25),
        ("25.50", 25.5),
        (" 74.5 ", 74.5),
        (".5", 0.5),
        ("1e2", 100.0),
        ("-3", -3),
    ],
)
def test_to_number_accepts_numbers_and_numeric_strings(raw: object, expected: float) -> None:
    assert to_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [None, True, False, "abc", "", "1,5", "NaN", "Infinity", "1e999", math.nan, math.inf, -math.inf, [1], {}],
)
def test_to_number_rejects_non_numbers_and_non_finite(raw: object) -> None:
    assert to_number(raw) is None


def test_to_number_keeps_integer_strings_as_int() -> None:
    assert type(to_number("3")) is int
    assert to_number("999999999999999") == 999999999999999


@pytest.mark.parametrize("raw", [10**16, -(10**16), "1" + "0" * 1000, 1e300, "1e20"])
def test_to_number_refuses_amounts_no_order_has(raw: object) -> None:
    # Sent to TikTok, such a value would fail the whole request of up to 1,000 events.
    assert to_number(raw) is None


@pytest.mark.parametrize(("raw", "expected"), [(2, 2), (2.0, 2), ("3", 3), ("3.0", 3), ("1e1", 10)])
def test_to_whole_number_accepts_whole_values_as_int(raw: object, expected: int) -> None:
    result = to_whole_number(raw)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("raw", [1.5, "1.5", "0.1", "two", None, True, math.nan])
def test_to_whole_number_rejects_fractions_and_non_numbers(raw: object) -> None:
    assert to_whole_number(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1077218", "1077218"),
        (1077218, "1077218"),
        (BEYOND_FLOAT, "9007199254740993"),
        (1077218.0, "1077218"),
        (25.5, "25.5"),
        ("  padded  ", "  padded  "),
    ],
)
def test_to_text_gives_string_forms(raw: object, expected: str) -> None:
    assert to_text(raw) == expected


@pytest.mark.parametrize("raw", [None, True, False, "", "   ", math.nan, [], {}])
def test_to_text_rejects_empty_and_non_scalars(raw: object) -> None:
    assert to_text(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        (["https://first.example", "https://second.example"], "https://first.example"),
        (["only"], "only"),
        ([], None),
        (None, None),
        ({"a": "b"}, None),
        (7, "7"),
        (True, None),
    ],
)
def test_to_flag_takes_a_string_or_the_first_element_of_a_list(raw: object, expected: str | None) -> None:
    assert to_flag(raw) == expected

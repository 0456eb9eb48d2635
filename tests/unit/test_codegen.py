"""The code written from the field tables: its inline fast paths give exactly what the functions give."""

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping import fields as tables
from tiktok_connector.mapping import steps
from tiktok_connector.mapping.codegen import READ_AS_IS, compiled, read_expression, step_expression
from tiktok_connector.mapping.field_types import Field, Scope
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.model.events import Batch, Event
from tiktok_connector.platform.errors import BadRequestError
from tiktok_connector.platform.http_edge import request_body

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
    "usd",
    " USD ",
    "Eur",
    "US1",
    "ÄÖÜ",
    [],
    ["a"],
    {},
    {"a": 1},
]


@pytest.mark.parametrize("read", list(READ_AS_IS), ids=lambda read: read.__name__)
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


URLS = [
    "https://shop.example.com/p/1",
    "HTTPS://shop.example.com/",
    "http://shop.example.com/",
    "ftp://shop.example.com/",
    "shop.example.com",
    "https://shop.example.com/?email=jane%40example.com&x=1",
    "https://shop.example.com/?e=jane@example.com",
    "https://user@shop.example.com/",
    "https://shop.example.com/?ttclid=E.C.P.fromurl",
    "https://shop.example.com/?ttclid=other",
]
STEP_SAMPLES: dict[Any, list[tuple[Any, Event]]] = {
    steps.seconds: [(ms, Event("commerce_event")) for ms in (0, 999, 1000, 1_741_954_000_999)],
    steps.click_id: [
        ((callback, url), Event("commerce_event"))
        for callback in (None, "E.C.P.abc", "e.c.p.abc", "abc", "")
        for url in (None, *URLS)
    ],
    steps.page_url: [(url, Event("commerce_event")) for url in URLS],
    steps.without_emails: [(url, Event("commerce_event")) for url in URLS],
    steps.listed_currency: [(code, Event("commerce_event")) for code in ("USD", "EUR", "XXX", "usd", "")],
    steps.value_with_listed_currency: [
        (value, Event("commerce_event", currency_code=code))
        for value in (0, 12.5)
        for code in (None, "USD", "XXX", "")
    ],
    steps.purchase_only: [
        ("ORD-1", Event("commerce_event", product_action=action))
        for action in (None, "purchase", "checkout", "Purchase")
    ],
}


def test_every_inline_step_has_samples() -> None:
    assert set(STEP_SAMPLES) == set(steps.INLINE_STEPS)


@pytest.mark.parametrize(
    ("step", "value", "event"),
    [(step, value, event) for step, samples in STEP_SAMPLES.items() for value, event in samples],
    ids=lambda item: getattr(item, "__name__", None) or repr(item)[:40],
)
def test_an_inline_step_gives_what_its_step_gives(step: Any, value: Any, event: Event) -> None:
    inline, _ = compiled(
        ["def inline(value, scope):", f"    return {step_expression(steps.INLINE_STEPS, step, 'call')}"],
        {"call": step, **steps.STEP_GLOBALS},
        "inline",
    )
    called, written = (Scope(Batch([event]), MappingSettings(), Counter(), event) for _ in range(2))

    assert inline(value, written) == step(value, called)
    assert written.pending == called.pending  # the same warnings


def _scopes() -> list[Scope]:
    """A scope per event of the Webhook samples, with a TikTok event chosen (what the plans read)."""
    scopes = []
    for path in sorted(Path(__file__).parents[2].joinpath("events").glob("webhook-*.json")):
        try:
            batches = parse_webhook_body(request_body(json.loads(path.read_text(encoding="utf-8"))))
        except BadRequestError:
            continue  # the sample of a refused body
        for batch in batches:
            for event in batch.events:
                scope = Scope(batch, MappingSettings(), Counter(), event)
                scope.tiktok_event = "AddToCart"
                scopes.append(scope)
    return scopes


def _rows_with_expressions() -> list[Field]:
    rows = [*tables.EVENT_FIELDS, *(row for rows in tables.FIELDS_BY_EVENT_TYPE.values() for row in rows)]
    return [row for row in rows if row.source.expression is not None and row.source.kind != "product"]


@pytest.mark.parametrize("row", _rows_with_expressions(), ids=lambda row: row.tiktok)
def test_a_sources_expression_reads_what_its_get_reads(row: Field) -> None:
    expression = row.source.expression
    assert expression is not None
    read, _ = compiled(["def read(source):", f"    return {expression}"], {}, "read")
    scopes = _scopes()

    assert [read(scope) for scope in scopes] == [row.source.get(scope) for scope in scopes]
    assert any(row.source.get(scope) is not None for scope in scopes) or row.tiktok == "limited_data_use"


def test_a_product_sources_expression_reads_what_its_get_reads() -> None:
    products = [product for scope in _scopes() for product in scope.event.products]
    assert products
    for item in (item for row in tables.COMMERCE_FIELDS for item in row.items):
        expression = item.source.expression
        assert expression is not None
        read, _ = compiled(["def read(source):", f"    return {expression}"], {}, "read")
        assert [read(product) for product in products] == [item.source.get(product) for product in products]


@given(st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none()))
def test_a_value_that_reads_as_itself_is_what_every_reader_gives(value: Any) -> None:
    for read in READ_AS_IS:
        inline, _ = compiled(
            ["def inline(value):", f"    return {read_expression(read, 'call')}"], {"call": read}, "inline"
        )
        expected = read(value)
        got = inline(value)
        assert type(got) is type(expected)
        assert got == expected or (isinstance(got, float) and math.isnan(got) and math.isnan(expected))

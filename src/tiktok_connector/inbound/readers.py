"""Readers both input parsers share (Webhook batch, Firehose request): one behaviour, one place.

The field tables (`mapping.fields`) name, for every value they read, its path on each route and the
edge reader that types it; `ReadPlan`s compiled from them here fill the typed model. The values every
event has whatever the tables hold (ids, times, flags, attributes, identities) have their own readers.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Final, Literal

from tiktok_connector.mapping.codegen import compiled, read_expression, reads_as_is
from tiktok_connector.mapping.custom import attribute_text
from tiktok_connector.mapping.field_types import Field, Reader
from tiktok_connector.mapping.fields import COMMERCE_FIELDS, EVENT_FIELDS
from tiktok_connector.model.events import NO_CONSENT, ConsentState, Event, Product
from tiktok_connector.platform.values import to_flag, to_int64, to_text

Route = Literal["webhook", "firehose"]

# Plausible Unix times in milliseconds (2001-09-09 to 2286-11-20): anything else is not a real event
# time, and TikTok would refuse the whole request over it.
PLAUSIBLE_MS: Final = range(10**12, 10**13)  # `in` is a comparison for an int, never a scan


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What the parsers read for one route and one kind of model object, compiled from the tables."""

    containers: tuple[str, ...]
    """The objects the values sit in, as dotted paths from the raw object ("": the object itself); the
    parsers hand them to `read` in this order."""
    rows: tuple[tuple[str, int, str, tuple[int, str] | None, Reader, str | None], ...]
    """(model attribute, container index, key, another (container index, key) to try when that has no
    value, edge reader, warning if unreadable)."""
    read: Callable[..., tuple[str, ...]] = field(repr=False, compare=False)
    """`read(target, *containers)`: sets `target`'s attributes; returns the warnings of unreadable
    values (present, but the reader refused them). Written from the rows (`mapping.codegen`)."""
    code: str = field(repr=False, compare=False)


def _plan(fields: tuple[Field, ...], kinds: frozenset[str], route: Route) -> ReadPlan:
    containers = [""]
    rows = []
    for row in (row for table_row in fields for row in (table_row, *table_row.items)):
        source = row.source
        if source.kind not in kinds or source.read is None:
            continue
        places = []
        for path in source.paths(route):
            container = ".".join(path[:-1])
            if container not in containers:
                containers.append(container)
            places.append((containers.index(container), path[-1]))
        assert len(places) <= 2, "a value and at most one place to look for it else"
        (index, key), *fallback = places
        rows.append(
            (source.attribute, index, key, fallback[0] if fallback else None, source.read, source.invalid)
        )
    read, code = _compiled_reads(tuple(rows), len(containers))
    return ReadPlan(tuple(containers), tuple(rows), read, code)


def _compiled_reads(
    rows: tuple[tuple[str, int, str, tuple[int, str] | None, Reader, str | None], ...], count: int
) -> tuple[Callable[..., tuple[str, ...]], str]:
    namespace: dict[str, object] = {}
    lines = [
        "def read(target, " + ", ".join(f"c{index}" for index in range(count)) + "):",
        "    warnings = ()",
    ]
    for number, (attribute, index, key, fallback, read, invalid) in enumerate(rows):
        namespace[f"read{number}"] = read
        lines.append(f"    value = c{index}.get({key!r})")
        if fallback is not None:
            lines += ["    if value is None:", f"        value = c{fallback[0]}.get({fallback[1]!r})"]
        lines += [
            "    if value is not None:",
            f"        typed = {read_expression(read, f'read{number}')}",
            "        if typed is not None:",
            f"            target.{attribute} = typed",
        ]
        if invalid is not None:
            lines += ["        else:", f"            warnings += ({invalid!r},)"]
    lines.append("    return warnings")
    return compiled(lines, namespace, "read")


def _product_rows() -> tuple[tuple[str, Reader, str | None], ...]:
    """Per attribute of `Product`, in its order: (key, reader, warning); a product's values sit under the
    same key on both routes."""
    rows = {
        item.source.attribute: (item.source.webhook, item.source.read, item.source.invalid)
        for table_row in COMMERCE_FIELDS
        for item in table_row.items
        if item.source.read is not None and item.source.kind == "product"
    }
    assert all(item.source.webhook == item.source.firehose for row in COMMERCE_FIELDS for item in row.items)
    order = [attribute.name for attribute in fields(Product)]
    assert set(rows) == set(order), "each attribute of Product has its row in the tables"
    return tuple(rows[attribute] for attribute in order)


def _compiled_products(
    rows: tuple[tuple[str, Reader, str | None], ...],
) -> tuple[Callable[[Event, list[object] | None], None], str]:
    """`read_products(event, items)`: one `Product` per object of the list, each value by its row.

    A product whose every value has the type mParticle documents is made at once, after one test of
    them all; any other is read value by value, each by its reader (with the warning of a refused one)."""
    namespace: dict[str, object] = {"Product": Product}
    names = [f"v{number}" for number in range(len(rows))]
    lines = [
        "def read_products(event, items):",
        "    products = []",
        "    for item in items or ():",
        "        if not isinstance(item, dict):",
        "            continue",
        *(f"        {name} = item.get({key!r})" for name, (key, _, _) in zip(names, rows, strict=True)),
    ]
    conditions = [reads_as_is(read, name) for name, (_, read, _) in zip(names, rows, strict=True)]
    if all(conditions):
        lines.append("        if not (" + " and ".join(map(str, conditions)) + "):")
        indent = "            "
    else:
        indent = "        "
    for number, (name, (_, read, invalid)) in enumerate(zip(names, rows, strict=True)):
        namespace[f"read{number}"] = read
        lines += [
            f"{indent}if {name} is not None:",
            f"{indent}    {name} = {read_expression(read, f'read{number}', name)}",
        ]
        if invalid is not None:
            lines += [f"{indent}    if {name} is None:", f"{indent}        event.warnings += ({invalid!r},)"]
    lines += [f"        products.append(Product({', '.join(names)}))", "    event.products = products"]
    return compiled(lines, namespace, "read_products")


BATCH_READS: Final = {
    route: _plan(EVENT_FIELDS, frozenset({"batch"}), route) for route in ("webhook", "firehose")
}
COMMERCE_READS: Final = {
    route: _plan(COMMERCE_FIELDS, frozenset({"event"}), route) for route in ("webhook", "firehose")
}
assert not _plan(EVENT_FIELDS, frozenset({"event", "product"}), "webhook").rows, (
    "read every-event values here"
)
assert all(invalid is None for plan in BATCH_READS.values() for *_, invalid in plan.rows), "no batch warnings"
read_products, PRODUCTS_CODE = _compiled_products(_product_rows())
"""`read_products(event, items)`: the event's products; unreadable values become its warnings."""


def read_product_action(
    event: Event,
    action: object,
    products: object,
    where: str,
    plan: ReadPlan,
    *containers: Mapping[str, object],
) -> None:
    """A product action's values, once each route has found where they sit: its products must be a list
    (or absent), else the event is invalid; unreadable values become the event's warnings."""
    if products is not None and not isinstance(products, list):
        event.invalid_reason = f"{where} is not a list"
        return
    event.product_action = to_text(action)
    if warnings := plan.read(event, *containers):
        event.warnings += warnings
    read_products(event, products)


NameKeys = tuple[str, str | None]
"""Where an event's name and custom event type sit (None: the event type has none)."""


def read_names(event: Event, values: Mapping[str, object], keys: NameKeys | None) -> None:
    """A custom event's name and type, or a screen view's name; nothing for other event types."""
    if keys is None:
        return
    name_key, type_key = keys
    event.name = to_text(values.get(name_key))
    if type_key is not None:
        event.custom_event_type = to_text(values.get(type_key))


def plausible_ms(value: object) -> int | None:
    """A Unix time in milliseconds (int64 as number or decimal string), if it is a plausible one."""
    timestamp = value if type(value) is int else to_int64(value)
    return timestamp if timestamp is not None and timestamp in PLAUSIBLE_MS else None


def read_event_time(event: Event, value: object, batch_ms: int | None) -> None:
    """The event's time, else its batch's; an implausible one is counted (`invalid_timestamp`)."""
    timestamp = value if type(value) is int else to_int64(value)
    if timestamp is not None and timestamp in PLAUSIBLE_MS:
        event.timestamp_ms = timestamp
        return
    if timestamp is not None:
        event.warnings += ("invalid_timestamp",)
    event.timestamp_ms = batch_ms


def object_or_empty(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def custom_flags(value: object) -> dict[str, str]:
    """Flags by lower-cased name, trimmed, blank ones left out; a list gives its first element (native
    SDKs send lists). When two names differ only in case, the first non-blank one counts."""
    if not isinstance(value, dict):
        return {}
    flags: dict[str, str] = {}
    for name, raw in value.items():
        text = raw if type(raw) is str else to_flag(raw)
        if text is not None and (text := text.strip()):
            flags.setdefault(_LOWERED.get(name) or _lowered(name), text)
    return flags


_LOWERED: Final[dict[str, str]] = {}
"""Flag names lower-cased, per container: every event of every batch spells the same few, so each event's
flags share one key object per name (no new string per flag, and one a later lookup finds in the cache)."""
_MAX_LOWERED: Final = 1024


def _lowered(name: str) -> str:
    lowered = name.lower()
    if len(_LOWERED) < _MAX_LOWERED:  # bounded: names come from the requests
        _LOWERED[name] = lowered
    return lowered


def custom_attributes(value: object) -> dict[str, str | None]:
    """Attributes as text; a list or object is kept as None (present, but no text a mapping can use)."""
    if not isinstance(value, dict):
        return {}
    for raw in value.values():
        if type(raw) is not str:
            return {name: attribute_text(raw) for name, raw in value.items() if raw is not None}
    return value  # all text already, as mParticle documents them


def identity_text(value: object) -> str | None:
    """An identity value: a non-blank string, or a JSON integer as its decimal string (never via a float;
    booleans and fractions are no identities)."""
    if type(value) is str:
        return value if value.strip() else None
    return str(value) if type(value) is int else None


def user_attributes(value: object) -> dict[str, str]:
    """User attributes by lower-cased name (real batches carry both `$FirstName` and `$firstname`), as
    text; blank and list values are left out, and of two names that differ in case the first counts."""
    if not isinstance(value, dict):
        return {}
    attributes: dict[str, str] = {}
    for name, raw in value.items():
        text = raw if type(raw) is str else attribute_text(raw)
        if text is not None and text.strip():
            attributes.setdefault(name.lower(), text)
    return attributes


def locale(language: object, country: object) -> tuple[str | None, str | None]:
    """The device's language (lower-cased) and country (upper-cased); a country given as a locale
    (`en_US`, as real Firehose devices send it) is read as the part after the separator."""
    language_code = country_code = None
    if isinstance(language, str):
        code = language.strip().replace("-", "_").partition("_")[0]
        if code.isascii() and code.isalpha() and 2 <= len(code) <= 8:
            language_code = code.lower()
    if isinstance(country, str):
        code = country.strip().replace("-", "_").rpartition("_")[2]
        if code.isascii() and ((code.isalpha() and len(code) == 2) or (code.isdigit() and len(code) == 3)):
            country_code = code.upper()
    return language_code, country_code


def consent_state(value: object) -> ConsentState:
    """Consent per purpose. mParticle's schema names the parts `gdpr` / `ccpa`, its Firehose examples
    `gdpr_consent_state` / `ccpa_consent_state`: both are read, on both routes."""
    if not isinstance(value, dict):
        return NO_CONSENT
    return ConsentState(
        gdpr=_consented(value, "gdpr", "gdpr_consent_state"),
        ccpa=_consented(value, "ccpa", "ccpa_consent_state"),
    )


def _consented(state: dict[str, object], *names: str) -> dict[str, bool]:
    purposes: dict[str, bool] = {}
    for name in names:
        part = state.get(name)
        for purpose, entry in part.items() if isinstance(part, dict) else ():
            consented = entry.get("consented") if isinstance(entry, dict) else None
            if isinstance(consented, bool):
                purposes.setdefault(purpose.strip().lower(), consented)
    return purposes


def derived_event_id(raw: dict[str, object], mpid: str | None) -> str:
    """An event without ids still needs one that is the same when mParticle resends it."""
    canonical = json.dumps([mpid, raw], sort_keys=True, separators=(",", ":"), default=str)
    return "mp-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]

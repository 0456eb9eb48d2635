"""The field tables compiled for the mapper: per event type, the rows of each TikTok object.

A plan's rows are applied by one function written from them once, at import, the way `dataclasses`
writes a class's `__init__`: each row becomes its few straight lines (read the typed value, apply the
step, set the key, or else skip the event, count a warning, or take the default), so an event pays for
its fields and not for walking the table. The code comes only from the module's own constant tables,
never from input; `Plan.code` shows it.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, NamedTuple, cast

from tiktok_connector.mapping.field_types import Field, Scope
from tiktok_connector.mapping.fields import EVENT_FIELDS, FIELDS_BY_EVENT_TYPE
from tiktok_connector.model.tiktok import JsonObject

Apply = Callable[[list[JsonObject], Any, Scope, list[str]], str | None]
"""Sets each row's key in its object (`targets`), reading from `source`; appends the warnings of absent
fields to the list; returns the skip reason of a required field without a value, else None."""


class Row(NamedTuple):
    """One `Field`, ready to apply."""

    target: int
    """The TikTok object it sits in: its index among the plan's objects."""
    key: str
    get: Callable[[Any], Any]
    step: Callable[[Any, Scope], Any] | None
    required: str | None
    missing: str | None
    default: Callable[[], Any] | None


@dataclass(frozen=True, slots=True)
class Plan:
    objects: tuple[str, ...]
    """The TikTok objects the rows fill, in output order: "" (the event itself), `user`, `page`, ..."""
    children: tuple[tuple[int, str], ...]
    """(index, name) of the objects nested in the event (all but the first)."""
    from_batch: tuple[int, ...]
    """Per object, the index of the same object in the batch plan (-1: none), whose values it starts with."""
    rows: tuple[Row, ...]
    apply: Apply
    code: str


def plan(fields: Iterable[Field], batch_objects: tuple[str, ...] = ()) -> Plan:
    """The plan of these fields; `batch_objects`: those of the batch plan, whose values events start with."""
    objects = [""]
    rows = []
    for row in fields:
        if row.section not in objects:
            objects.append(row.section)
        step = row.step
        if row.items:
            items = plan(row.items)
            assert not any(item.required for item in items.rows), "an item skips no event"
            if any(item.step or item.missing or item.default for item in items.rows):
                step = partial(_items, items.apply)
            else:  # each value copied as it is: the usual case, made quick
                step = partial(_plain_items, tuple((item.key, item.get) for item in items.rows))
        target = objects.index(row.section)
        rows.append(Row(target, row.key, row.source.get, step, row.required, row.missing, row.default))
    apply, code = _compiled(tuple(rows))
    from_batch = tuple(batch_objects.index(name) if name in batch_objects else -1 for name in objects)
    return Plan(tuple(objects), tuple(enumerate(objects))[1:], from_batch, tuple(rows), apply, code)


def _compiled(rows: tuple[Row, ...]) -> tuple[Apply, str]:
    """The function applying the rows in order, and its code."""
    namespace: dict[str, Any] = {}
    lines = ["def apply(targets, source, scope, absent):"]
    for number, row in enumerate(rows):
        namespace[f"get{number}"] = row.get
        place = f"targets[{row.target}][{row.key!r}]"
        lines.append(f"    value = get{number}(source)")
        if row.step is not None:
            namespace[f"step{number}"] = row.step
            lines += ["    if value is not None:", f"        value = step{number}(value, scope)"]
        lines += ["    if value is not None:", f"        {place} = value"]
        if row.required is not None:
            lines += ["    else:", f"        return {row.required!r}"]
        elif row.missing is not None or row.default is not None:
            lines.append("    else:")
            if row.missing is not None:
                lines.append(f"        absent.append({row.missing!r})")
            if row.default is not None:
                namespace[f"default{number}"] = row.default
                lines.append(f"        {place} = default{number}()")
    lines.append("    return None")
    code = "\n".join(lines) + "\n"
    exec(code, namespace)  # noqa: S102  # written from the constant tables above, never from input
    return cast(Apply, namespace["apply"]), code


def _items(apply: Apply, elements: list[object], scope: Scope) -> list[JsonObject] | None:
    """A list field: one item per element that has at least one field."""
    items = []
    for element in elements:
        item: JsonObject = {}
        apply([item], element, scope, scope.pending)
        if item:
            items.append(item)
    return items or None


def _plain_items(
    fields: tuple[tuple[str, Callable[[Any], Any]], ...], elements: list[object], scope: Scope
) -> list[JsonObject] | None:
    """A list field whose item fields have no step: each present value copied as it is."""
    items = [
        item
        for element in elements
        if (item := {key: value for key, get in fields if (value := get(element)) is not None})
    ]
    return items or None


BATCH_PLAN: Final = plan(row for row in EVENT_FIELDS if row.per_batch)
"""The fields that are the same for every event of a batch (identities, IP, user agent): once per batch."""
EVENT_PLAN: Final = plan((row for row in EVENT_FIELDS if not row.per_batch), BATCH_PLAN.objects)
"""The fields of each event, of a type without fields of its own."""
PLANS_BY_TYPE: Final = {
    event_type: plan([row for row in EVENT_FIELDS if not row.per_batch] + list(fields), BATCH_PLAN.objects)
    for event_type, fields in FIELDS_BY_EVENT_TYPE.items()
}
IDENTIFIERS: Final = tuple(
    (BATCH_PLAN.objects.index(row.section), row.key) for row in EVENT_FIELDS if row.identifier
)
"""(index of its object in the batch plan, key) of each user identifier."""
CLICK_KEYS: Final = tuple((row.source.get, row.step) for row in EVENT_FIELDS if row.click_key)
"""(get, step) of each click key: whether an event carries one, for a user without identifiers."""
assert not any(row.per_batch for row in EVENT_FIELDS if row.click_key), "click keys are the event's"
assert all(row.required is None for row in EVENT_FIELDS if row.per_batch), "batch fields skip no event"
assert not any(row.per_batch for fields in FIELDS_BY_EVENT_TYPE.values() for row in fields)

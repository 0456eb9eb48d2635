"""The field tables compiled for the mapper: per event type, the rows of each TikTok object.

A plan's rows are applied by one function written from them once, at import, the way `dataclasses`
writes a class's `__init__`: each row becomes its few straight lines (read the typed value, apply the
step, set the key, or else skip the event, count a warning, or take the default), so an event pays for
its fields and not for walking the table. The code comes only from the module's own constant tables,
never from input; `Plan.code` shows it.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic, NamedTuple, TypeVar, cast

from tiktok_connector.mapping.codegen import compiled, step_expression
from tiktok_connector.mapping.field_types import Field, Scope
from tiktok_connector.mapping.fields import EVENT_FIELDS, FIELDS_BY_EVENT_TYPE
from tiktok_connector.mapping.steps import INLINE_STEPS, STEP_GLOBALS
from tiktok_connector.model.tiktok import JsonObject

Apply = Callable[[list[JsonObject], Any, Scope, list[str]], str | None]
"""Sets each row's key in its object (`targets`), reading from `source`; appends the warnings of absent
fields to the list; returns the skip reason of a required field without a value, else None."""
Build = Callable[[list[JsonObject], Any, Scope, list[str]], JsonObject | str]
"""Builds one event: each object starts as a copy of the batch's values for it (from the batch plan's
objects, the first argument) or empty, the rows set their keys as `Apply` does, and the objects that
have a key are nested in the event; returns the event, or the skip reason of a required field."""
F = TypeVar("F", Apply, Build)


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
    expression: str | None = None
    """`get(source)` as Python (`Source.expression`), written inline instead of the call."""


@dataclass(frozen=True, slots=True)
class Plan(Generic[F]):
    objects: tuple[str, ...]
    """The TikTok objects the rows fill, in output order: "" (the event itself), `user`, `page`, ..."""
    from_batch: tuple[int, ...]
    """Per object, the index of the same object in the batch plan (-1: none), whose values it starts with."""
    rows: tuple[Row, ...]
    apply: F
    code: str


def batch_plan(fields: Iterable[Field]) -> Plan[Apply]:
    """The plan of the fields that are the same for every event of a batch: `apply` fills one object per
    section, kept apart (each event's objects start as copies of them)."""
    objects, rows = _rows(fields)
    namespace: dict[str, Any] = {**STEP_GLOBALS}
    lines = ["def apply(targets, source, scope, absent):"]
    lines += [f"    target{index} = targets[{index}]" for index in range(len(objects))]
    lines += _rows_lines(rows, namespace)
    lines.append("    return None")
    apply, code = compiled(lines, namespace, "apply")
    return Plan(objects, (-1,) * len(objects), rows, cast(Apply, apply), code)


def event_plan(fields: Iterable[Field], batch_objects: tuple[str, ...]) -> Plan[Build]:
    """The plan of an event's own fields; `batch_objects`: those of the batch plan, whose values the
    event's objects of the same name start with."""
    objects, rows = _rows(fields)
    from_batch = tuple(batch_objects.index(name) if name in batch_objects else -1 for name in objects)
    namespace: dict[str, Any] = {**STEP_GLOBALS}
    lines = ["def build(batch, source, scope, absent):"]
    lines += [
        f"    target{index} = batch[{start}].copy()" if start >= 0 else f"    target{index} = {{}}"
        for index, start in enumerate(from_batch)
    ]
    rows_lines = _rows_lines(rows, namespace)
    # What most rows read, looked up once per event: the event, and its flags.
    for name, path in (("flags", "source.event.custom_flags"), ("event", "source.event")):
        if any(f"{path}." in line for line in rows_lines):
            lines.append(f"    {name} = {path}")
            rows_lines = [line.replace(f"{path}.", f"{name}.") for line in rows_lines]
    lines += rows_lines
    for index, name in enumerate(objects[1:], start=1):
        lines += [f"    if target{index}:", f"        target0[{name!r}] = target{index}"]
    lines.append("    return target0")
    build, code = compiled(lines, namespace, "build")
    return Plan(objects, from_batch, rows, cast(Build, build), code)


def _rows(fields: Iterable[Field]) -> tuple[tuple[str, ...], tuple[Row, ...]]:
    """The TikTok objects the fields fill ("" first: the event itself), and each field's row."""
    objects = [""]
    rows = []
    for row in fields:
        if row.section not in objects:
            objects.append(row.section)
        step = row.step
        if row.items:
            assert step is None and not any(item.required for item in row.items), "items skip no event"
            step = _compiled_items(tuple(_row(0, item, item.step) for item in row.items))
        rows.append(_row(objects.index(row.section), row, step))
    return tuple(objects), tuple(rows)


def _rows_lines(rows: tuple[Row, ...], namespace: dict[str, Any]) -> list[str]:
    lines = []
    for number, row in enumerate(rows):
        place = f"target{row.target}[{row.key!r}]"
        lines += ["    " + line for line in _row_lines(number, row, place, "absent", namespace)]
    return lines


def _row(target: int, field: Field, step: Callable[[Any, Scope], Any] | None) -> Row:
    source = field.source
    return Row(
        target, field.key, source.get, step, field.required, field.missing, field.default, source.expression
    )


def _row_lines(number: int, row: Row, place: str, absent: str, namespace: dict[str, Any]) -> list[str]:
    """The lines applying one row: read the value, apply the step, set `place`, or else the row's rule."""
    namespace[f"get{number}"] = row.get
    lines = [f"value = {row.expression or f'get{number}(source)'}"]
    if row.step is not None:
        namespace[f"step{number}"] = row.step
        lines += [
            "if value is not None:",
            f"    value = {step_expression(INLINE_STEPS, row.step, f'step{number}')}",
        ]
    lines += ["if value is not None:", f"    {place} = value"]
    if row.required is not None:
        lines += ["else:", f"    return {row.required!r}"]
    elif row.missing is not None or row.default is not None:
        lines.append("else:")
        if row.missing is not None:
            lines.append(f"    {absent}.append({row.missing!r})")
        if row.default is not None:
            namespace[f"default{number}"] = row.default
            lines.append(f"    {place} = default{number}()")
    return lines


def _compiled_items(rows: tuple[Row, ...]) -> Callable[[list[Any], Scope], list[JsonObject] | None]:
    """A list field's step: one item per element that has at least one field (None: no such element)."""
    namespace: dict[str, Any] = {**STEP_GLOBALS}
    lines = [
        "def items(elements, scope):",
        "    found = []",
        "    for source in elements:",
        "        item = {}",
    ]
    for number, row in enumerate(rows):
        lines += [
            "        " + line
            for line in _row_lines(number, row, f"item[{row.key!r}]", "scope.pending", namespace)
        ]
    lines += ["        if item:", "            found.append(item)", "    return found or None"]
    items, _ = compiled(lines, namespace, "items")
    return cast(Callable[[list[Any], Scope], list[JsonObject] | None], items)


BATCH_PLAN: Final = batch_plan(row for row in EVENT_FIELDS if row.per_batch)
"""The fields that are the same for every event of a batch (identities, IP, user agent): once per batch."""
EVENT_PLAN: Final = event_plan((row for row in EVENT_FIELDS if not row.per_batch), BATCH_PLAN.objects)
"""The fields of each event, of a type without fields of its own."""
PLANS_BY_TYPE: Final = {
    event_type: event_plan(
        [row for row in EVENT_FIELDS if not row.per_batch] + list(fields), BATCH_PLAN.objects
    )
    for event_type, fields in FIELDS_BY_EVENT_TYPE.items()
}
IDENTIFIERS: Final = tuple(
    (BATCH_PLAN.objects.index(row.section), row.key) for row in EVENT_FIELDS if row.identifier
)
"""(index of its object in the batch plan, key) of each user identifier."""
CLICK_KEYS: Final = tuple((row.source.get, row.step) for row in EVENT_FIELDS if row.click_key)
"""(get, step) of each click key: whether an event carries one, for a user without identifiers."""
EVENT_USER_KEYS: Final = tuple(row.key for row in EVENT_FIELDS if not row.per_batch and row.section == "user")
"""The `user` fields each event sets itself (the click keys); the others are its batch's."""
assert not any(row.section == "user" for fields in FIELDS_BY_EVENT_TYPE.values() for row in fields)
assert not any(row.per_batch for row in EVENT_FIELDS if row.click_key), "click keys are the event's"
assert all(row.required is None for row in EVENT_FIELDS if row.per_batch), "batch fields skip no event"
assert not any(row.per_batch for fields in FIELDS_BY_EVENT_TYPE.values() for row in fields)

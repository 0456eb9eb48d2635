"""Functions written once, at import, from the field tables (the way `dataclasses` writes `__init__`).

The parsers and the mapper run a few lines per field for every event; walking a table of rows instead
costs a loop, a tuple unpacking and a call per field. So each table is turned into the straight code
it stands for. The code comes only from the package's own constant tables, never from input.

Readers and steps keep their plain functions; for the common case of the most used ones (a value of
the type mParticle documents) an inline expression gives the same result without the call, and a test
holds each one equal to its function.
"""

from collections.abc import Callable, Mapping
from typing import Any, Final

from tiktok_connector.platform.values import (
    MAX_AMOUNT,
    to_currency_code,
    to_number,
    to_text,
    to_whole_number,
)

_IN_RANGE: Final = f"{-MAX_AMOUNT!r} <= {{value}} <= {MAX_AMOUNT!r}"
READ_AS_IS: Final[dict[Callable[[object], Any], str]] = {
    to_text: "type({value}) is str and {value}.strip()",
    to_number: "(type({value}) is float or type({value}) is int) and " + _IN_RANGE,
    to_whole_number: "type({value}) is int and " + _IN_RANGE,
    to_currency_code: "type({value}) is str and {value}.isalpha() and {value}.isupper()",
}
"""Per edge reader: a condition under which `read(value)` is `value` itself (the documented type)."""


def read_expression(read: Callable[[object], Any], call: str, value: str = "value") -> str:
    """Python for `read(value)` that skips the call when the value reads as itself, where `call` is the
    name `read` is bound to in the namespace."""
    condition = READ_AS_IS.get(read)
    if condition is None:
        return f"{call}({value})"
    return f"{value} if {condition.format(value=value)} else {call}({value})"


def reads_as_is(read: Callable[[object], Any], value: str) -> str | None:
    """Python for `READ_AS_IS`'s condition on `value`, or None when the reader has none."""
    condition = READ_AS_IS.get(read)
    return None if condition is None else f"({condition.format(value=value)})"


def step_expression(
    templates: Mapping[Callable[[Any, Any], Any], str], step: Callable[[Any, Any], Any], call: str
) -> str:
    """Python for `step(value, scope)`, where `call` is the name `step` is bound to in the namespace."""
    template = templates.get(step)
    if template is None:
        return f"{call}(value, scope)"
    return template.format(value="value", call=call)


def compiled(lines: list[str], namespace: dict[str, Any], name: str) -> tuple[Callable[..., Any], str]:
    """The function `name` defined by `lines`, with `namespace` as its globals, and its code."""
    code = "\n".join(lines) + "\n"
    exec(code, namespace)  # noqa: S102  # written from the package's constant tables, never from input
    function: Callable[..., Any] = namespace[name]
    return function, code

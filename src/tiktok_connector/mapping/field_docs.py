"""The field tables (`fields.py`) rendered as the markdown mapping table `docs/mapping-fields.md`.

Each column comes from the rows themselves: paths, the model attribute, and the first line of the
docstring of the edge reader, of the formatting step and of the default, so the documentation cannot
drift from what the code does.
"""

from collections.abc import Mapping
from typing import Final

from tiktok_connector.mapping.field_types import Field

_PREFIXES: Final = {
    "webhook": {
        "batch": "",
        "user_attribute": "",
        "event": "events[].data.",
        "flag": "events[].data.",
        "product": "events[].data.product_action.products[].",
    },
    "firehose": {
        "batch": "",
        "user_attribute": "",
        "event": "events[].",
        "flag": "events[].",
        "product": "events[].products[].",
    },
}
_COLUMNS: Final = (
    "TikTok field",
    "Webhook batch",
    "Firehose request",
    "Model",
    "Read",
    "Sent",
    "Absent",
    "About",
)


def _summary(function: object) -> str:
    doc = getattr(function, "__doc__", None) or ""
    name = getattr(function, "__name__", "")
    return f"`{name}`: {doc.strip().splitlines()[0]}" if doc else f"`{name}`"


def _where(field: Field, route: str) -> str:
    source = field.source
    text = source.webhook if route == "webhook" else source.firehose
    prefix = _PREFIXES[route].get(source.kind)
    if prefix is None:
        return text
    return " or ".join(f"`{prefix}{path.strip()}`" for path in text.split("|"))


def _absent(field: Field) -> str:
    if field.required:
        return f"event skipped, `{field.required}`"
    if field.default is not None:
        return _summary(field.default)
    if field.identifier:
        return "left out; an event needs one identifier, else skipped, `no_identifiers`"
    if field.click_key:
        return "left out; with `FORWARD_ANONYMOUS_WITH_CLICK_ID`, it stands in for an identifier"
    return f"left out, `{field.missing}`" if field.missing else "left out"


def _row(field: Field, parent: str) -> str:
    source = field.source
    read = _summary(source.read) if source.read else source.parsed or "-"
    if source.invalid:
        read = f"{read.rstrip('.')}; unreadable: `{source.invalid}`"
    cells = (
        f"`{parent}{field.tiktok}`",
        _where(field, "webhook"),
        _where(field, "firehose"),
        f"`{source.model}`",
        read,
        _summary(field.step) if field.step else "as read",
        _absent(field),
        field.doc,
    )
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _table(fields: tuple[Field, ...]) -> list[str]:
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for field in fields:
        lines.append(_row(field, ""))
        lines.extend(_row(item, f"{field.tiktok}[].") for item in field.items)
    return lines


def render_markdown(every_event: tuple[Field, ...], by_event_type: Mapping[str, tuple[Field, ...]]) -> str:
    """The field tables as markdown: the fields of every event, then those of each event type."""
    lines = [
        "# mParticle → TikTok Events API 2.0: field mapping",
        "",
        "Generated from `src/tiktok_connector/mapping/fields.py` by",
        "`make mapping-docs`; do not edit by hand.",
        "",
        "Read: how the parsers type the value at the edge (the same on both routes); a present value that",
        "cannot be read is left out and counted as the named warning when its event is forwarded.",
        "Sent: the formatting step on the way to TikTok. Absent: what happens when there is no value.",
        "",
        "## Every forwarded event",
        "",
        *_table(every_event),
    ]
    for event_type, fields in by_event_type.items():
        lines += ["", f"## Events of type `{event_type}`", "", *_table(fields)]
    return "\n".join(lines) + "\n"

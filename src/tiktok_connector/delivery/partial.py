"""Which events a partial-success answer (TikTok code 20001) names as failed.

TikTok does not publish the per-event detail of a 20001 answer. We expect a list of failed events in
its `data`, each naming the event by `index` (its position in the request's `data`) or by `event_id`,
with a `code` and a `message`, e.g. `{"failed_events": [{"index": 3, "event_id": "e-3", "code": 40002,
"message": "..."}]}`, and read it leniently: the list may sit under another key, one level deeper, or
be `data` itself. An answer that names no event we can find leaves the whole request accepted, as
RudderStack's TikTok destination treats 20001.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from tiktok_connector.delivery.masking import mask_personal_data

MESSAGE_LIMIT: Final = 300
_PREFERRED_KEYS: Final = ("failed_events", "failed", "errors", "invalid_events", "events")
_MAX_DEPTH: Final = 3


@dataclass(frozen=True, slots=True)
class FailedEvent:
    position: int
    """Position in the request's `data`."""
    code: int | None
    message: str
    """TikTok's message for this event, masked."""


def failed_events(data: object, event_ids: Sequence[str]) -> list[FailedEvent]:
    """The failed events a 20001 answer's `data` names, in request order, each once."""
    items = _failure_list(data, _MAX_DEPTH)
    positions_by_id: dict[str, list[int]] = {}
    for position, event_id in enumerate(event_ids):
        positions_by_id.setdefault(event_id, []).append(position)
    found: dict[int, FailedEvent] = {}
    for item in items:
        code = item.get("code")
        failure_code = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = mask_personal_data(str(item.get("message") or ""))[:MESSAGE_LIMIT]
        for position in _positions(item, len(event_ids), positions_by_id):
            found.setdefault(position, FailedEvent(position, failure_code, message))
    return [found[position] for position in sorted(found)]


def _positions(item: dict[str, object], count: int, positions_by_id: dict[str, list[int]]) -> list[int]:
    index = item.get("index")
    if isinstance(index, str) and index.strip().isdigit():
        index = int(index)
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count:
        return [index]
    event_id = item.get("event_id")
    if isinstance(event_id, str | int) and not isinstance(event_id, bool):
        return positions_by_id.get(str(event_id), [])
    return []


def _failure_list(data: object, depth: int) -> list[dict[str, object]]:
    """The first list of objects naming events by `index` or `event_id`, searched breadth first."""
    if _names_events(data):
        assert isinstance(data, list)
        return [item for item in data if isinstance(item, dict)]
    if not isinstance(data, dict) or depth <= 0:
        return []
    keys = [key for key in _PREFERRED_KEYS if key in data]
    keys += [key for key in data if key not in _PREFERRED_KEYS]
    for key in keys:
        if _names_events(data[key]):
            return _failure_list(data[key], depth)
    for key in keys:
        found = _failure_list(data[key], depth - 1)
        if found:
            return found
    return []


def _names_events(value: object) -> bool:
    return isinstance(value, list) and any(
        isinstance(item, dict) and ("index" in item or "event_id" in item) for item in value
    )

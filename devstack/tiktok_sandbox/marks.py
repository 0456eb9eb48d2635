"""Events a test marks as bad, by ``event_id``, and the answer a valid request carrying them gets.

Two marks, both checked only once a request passed TikTok's own checks (token, JSON, fields):

* **rejected**: the whole request is refused with code 40002, the message naming the first marked
  event's position, as TikTok refuses a request when one of its events is invalid.
* **partial failure**: the request is answered with code 20001 and the marked events are listed as
  failed; the others count as accepted. TikTok does not publicly document the per-event detail of a
  20001 answer, so this shape is the sandbox's assumption::

      {"code": 20001, "message": "Partial success", "request_id": "...",
       "data": {"failed_events": [{"index": 3, "event_id": "e-3", "code": 40002, "message": "..."}]}}

  ``index`` is the event's position in the request's ``data``.

A rejection wins over a partial failure when a request carries both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

from devstack.tiktok_sandbox.protocol import (
    CODE_INVALID_PARAMETER,
    CODE_MESSAGES,
    CODE_PARTIAL_SUCCESS,
    envelope,
)

DEFAULT_FAILURE_MESSAGE: Final = CODE_MESSAGES[CODE_INVALID_PARAMETER]


def _marked(events: Sequence[object], marks: frozenset[str]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    if not marks:
        return found
    for index, event in enumerate(events):
        event_id = cast(dict[str, Any], event).get("event_id") if isinstance(event, dict) else None
        if isinstance(event_id, str) and event_id in marks:
            found.append((index, event_id))
    return found


def answer_for_marked_events(
    events: Sequence[object],
    rejected: frozenset[str],
    partial: frozenset[str],
    failure_message: str = DEFAULT_FAILURE_MESSAGE,
) -> dict[str, Any] | None:
    """The envelope for a valid request's ``data``, or ``None`` when no event in it is marked."""
    rejects = _marked(events, rejected)
    if rejects:
        index, _ = rejects[0]
        # Like TikTok's own messages: the field path, never the value.
        return envelope(CODE_INVALID_PARAMETER, f"data.{index}.event_id: Invalid event")
    failures = _marked(events, partial)
    if not failures:
        return None
    failed_events = [
        {"index": index, "event_id": event_id, "code": CODE_INVALID_PARAMETER, "message": failure_message}
        for index, event_id in failures
    ]
    return envelope(
        CODE_PARTIAL_SUCCESS, CODE_MESSAGES[CODE_PARTIAL_SUCCESS], {"failed_events": failed_events}
    )

"""What the sandbox remembers of each request: enough for a test to assert on, never a secret."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

from devstack.tiktok_sandbox.protocol import CODE_OK, CODE_PARTIAL_SUCCESS


@dataclass(frozen=True)
class RecordedRequest:
    """One request that reached the sandbox's track route (or a wrong path outside ``/_sandbox/``).

    ``headers`` never holds a secret: ``Access-Token`` is stored as ``"<valid>"`` or ``"<invalid>"``
    (absent when the request had none) and ``Authorization``/``Cookie`` as ``"<redacted>"``.
    ``http_status`` and ``response`` are ``None`` when a ``reset`` fault dropped the connection.
    """

    path: str
    headers: dict[str, str]
    body: Any
    raw_size: int
    http_status: int | None
    response: dict[str, Any] | None
    received_at: float
    method: str = "POST"
    fault: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy (what ``GET /_sandbox/requests`` answers)."""
        return asdict(self)

    @property
    def code(self) -> int | None:
        """The TikTok ``code`` answered, or ``None`` when the answer was not a TikTok envelope."""
        if self.response is None:
            return None
        code = self.response.get("code")
        return code if isinstance(code, int) and not isinstance(code, bool) else None

    @property
    def event_ids(self) -> list[str | None]:
        """The ``event_id`` of each event sent, in order (``None`` where an event had none)."""
        events = self.body.get("data") if isinstance(self.body, dict) else None
        if not isinstance(events, list):
            return []
        return [
            cast(dict[str, Any], event).get("event_id") if isinstance(event, dict) else None
            for event in cast(list[object], events)
        ]

    @property
    def failed_indexes(self) -> list[int]:
        """Positions in ``data`` that a partial-success (20001) answer named as failed."""
        if self.code != CODE_PARTIAL_SUCCESS or self.response is None:
            return []
        data = self.response.get("data")
        failed = data.get("failed_events") if isinstance(data, dict) else None
        if not isinstance(failed, list):
            return []
        return [
            item["index"] for item in failed if isinstance(item, dict) and isinstance(item.get("index"), int)
        ]

    def accepted_events(self) -> list[dict[str, Any]]:
        """The events TikTok kept: all of a code 0 answer, all but the failed ones of a 20001 answer."""
        if self.http_status != 200 or self.code not in (CODE_OK, CODE_PARTIAL_SUCCESS):
            return []
        if not isinstance(self.body, dict) or not isinstance(self.body.get("data"), list):
            return []
        failed = set(self.failed_indexes)
        events = cast(list[dict[str, Any]], self.body["data"])
        return [event for index, event in enumerate(events) if index not in failed]

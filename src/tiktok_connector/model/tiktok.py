"""The TikTok side of the shared model: one Events API 2.0 request body and where its events came from.

Mapping produces these; delivery, dead letters and the redrive consume them. They sit below all three so
that none of them imports another's module for a type.
"""

from dataclasses import dataclass

JsonObject = dict[str, object]


@dataclass(slots=True)
class SourceRef:
    """Where a TikTok event came from, for the dead-letter queue and logs (no personal data).

    A value, never changed once made; not `frozen`, because a frozen dataclass is made three times
    slower (its `__init__` goes through `object.__setattr__`) and the mapper makes one per event."""

    event_id: str
    batch_id: str | None = None
    source_event_id: str | None = None


@dataclass(slots=True)
class TikTokRequest:
    """One Events API 2.0 request body and the sources of its events, in the same order."""

    body: JsonObject
    sources: list[SourceRef]

    @property
    def event_count(self) -> int:
        return len(self.sources)

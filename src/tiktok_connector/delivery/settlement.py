"""How the parts of one request ended, and the pure steps that make parts: halves, partial answers.

A request TikTok refuses with 40002 is split in halves until its bad events stand alone; a partial
success (20001) leaves the events it names as failed. The parts that failed are gathered here by how
they failed, so that each kind becomes one dead letter (split only if too large), its events in the
request's order, instead of one letter per lone event.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from tiktok_connector.delivery.dead_letters import DeliveryFailure
from tiktok_connector.delivery.partial import MESSAGE_LIMIT, FailedEvent
from tiktok_connector.delivery.tiktok_client import ANSWER_CODES, TikTokAnswer, Verdict
from tiktok_connector.model.tiktok import TikTokRequest

INVALID_PARAMETER: Final = 40002
PARTIAL_SUCCESS: Final = 20001
_REQUEST_FIELDS: Final = ("event_source_id", "event_source", "test_event_code", "partner_name")
"""Top-level fields: a refusal naming one of them is about every part alike, so splitting cannot help."""


def can_split(request: TikTokRequest, failure: DeliveryFailure) -> bool:
    """A 40002 refusal of more than one event, not naming a field of the request itself."""
    if request.event_count < 2 or failure.tiktok_code != INVALID_PARAMETER:
        return False
    return not failure.message.strip().lower().startswith(_REQUEST_FIELDS)


def halves(request: TikTokRequest) -> tuple[TikTokRequest, TikTokRequest]:
    """The first and second half of a request's events (the second gets the odd one out)."""
    half = request.event_count // 2
    return _subset(request, range(half)), _subset(request, range(half, request.event_count))


def event_ids(request: TikTokRequest) -> list[str]:
    return [source.event_id for source in request.sources]


def is_partial(answer: TikTokAnswer | None) -> bool:
    return answer is not None and answer.outcome.verdict is Verdict.PARTIAL


def partition(request: TikTokRequest, failed: Sequence[FailedEvent]) -> tuple[TikTokRequest, TikTokRequest]:
    """The events TikTok kept and those a partial answer named as failed, each in request order."""
    positions = {event.position for event in failed}
    kept = [position for position in range(request.event_count) if position not in positions]
    return _subset(request, kept), _subset(request, sorted(positions))


def partial_failure(
    answer: TikTokAnswer, failed: Sequence[FailedEvent], *, attempts: int, at: float
) -> DeliveryFailure:
    """The dead letter's error for the events a partial answer refused: final, like a 40002."""
    messages = list(dict.fromkeys(event.message for event in failed if event.message))
    return DeliveryFailure(
        reason=ANSWER_CODES[INVALID_PARAMETER].reason,
        retryable=False,
        attempts=attempts,
        first_attempt_at=at,
        last_attempt_at=at,
        http_status=answer.http_status,
        tiktok_code=answer.code,
        message=("; ".join(messages) or answer.message)[:MESSAGE_LIMIT],
        request_id=answer.request_id,
    )


def _subset(request: TikTokRequest, positions: Sequence[int]) -> TikTokRequest:
    data = request.body["data"]
    assert isinstance(data, list)
    return TikTokRequest(
        body={**request.body, "data": [data[position] for position in positions]},
        sources=[request.sources[position] for position in positions],
    )


_Kind = tuple[str, bool, int | None, int | None]


@dataclass(slots=True)
class FailedParts:
    """The failed parts of one request, gathered by kind (reason, retryable, HTTP status, TikTok code)."""

    request: TikTokRequest
    kinds: dict[_Kind, tuple[DeliveryFailure, list[TikTokRequest]]] = field(default_factory=dict)

    def add(self, part: TikTokRequest, failure: DeliveryFailure) -> None:
        if not part.event_count:
            return
        kind = (failure.reason, failure.retryable, failure.http_status, failure.tiktok_code)
        known = self.kinds.get(kind)
        if known is None:
            self.kinds[kind] = (failure, [part])
            return
        first, parts = known
        parts.append(part)
        self.kinds[kind] = (
            replace(
                first,
                attempts=max(first.attempts, failure.attempts),
                first_attempt_at=min(first.first_attempt_at, failure.first_attempt_at),
                last_attempt_at=max(first.last_attempt_at, failure.last_attempt_at),
            ),
            parts,
        )

    def gathered(self) -> list[tuple[TikTokRequest, DeliveryFailure]]:
        """One request per kind, its events in the order they were added (the request's order)."""
        return [(self._joined(parts), failure) for failure, parts in self.kinds.values()]

    def _joined(self, parts: list[TikTokRequest]) -> TikTokRequest:
        if len(parts) == 1:
            return parts[0]
        data: list[object] = []
        for part in parts:
            events = part.body["data"]
            assert isinstance(events, list)
            data.extend(events)
        return TikTokRequest(
            body={**self.request.body, "data": data},
            sources=[source for part in parts for source in part.sources],
        )

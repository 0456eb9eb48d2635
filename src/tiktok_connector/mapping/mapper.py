"""Pure mapping from the typed internal model to TikTok Events API 2.0 events and requests.

The mapper applies the field tables of `fields.py` (compiled in `plans.py`): for each row it reads the
typed value, applies the row's formatting step, and sets the TikTok key, leaves it out, counts a warning
or skips the event, as the row says. Fields whose source is the batch (identities, IP, user agent, user
attributes, consent) are formatted once per batch.

Skip reasons are decided in this order, the first that applies winning: `invalid_event`,
`unsupported_event`, `no_consent` (only with a required GDPR purpose), `no_identifiers`, and then the
required fields' own (`invalid_page_url`).
No I/O here: everything is testable without AWS or a network.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from tiktok_connector.mapping.custom import CustomMapping, find_custom_mapping
from tiktok_connector.mapping.custom_properties import apply_mapped_properties
from tiktok_connector.mapping.field_types import Scope
from tiktok_connector.mapping.match_keys import count_key_masks, user_key_mask
from tiktok_connector.mapping.plans import (
    BATCH_PLAN,
    CLICK_KEYS,
    EVENT_PLAN,
    EVENT_USER_KEYS,
    IDENTIFIERS,
    PLANS_BY_TYPE,
)
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.mapping.vocabulary import MAX_EVENTS_PER_REQUEST, NATIVE_COMMERCE_EVENTS
from tiktok_connector.model.events import Batch, Event
from tiktok_connector.model.tiktok import JsonObject, SourceRef, TikTokRequest


@dataclass(slots=True)
class MappedEvent:
    payload: JsonObject
    source: SourceRef


@dataclass(slots=True)
class MappingResult:
    """Every received event ends either mapped (`payloads`, `sources`) or in `skipped` (by reason)."""

    received: int = 0
    payloads: list[JsonObject] = field(default_factory=list)
    """The TikTok events, in order (two lists rather than an object per event: one less per event)."""
    sources: list[SourceRef] = field(default_factory=list)
    """Where each of `payloads` came from, at the same index."""
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    key_masks: Counter[int] = field(default_factory=Counter)
    """Mapped events per `user_key_mask` of their `user` (counted here: a batch's shared fields once)."""

    @property
    def mapped(self) -> list[MappedEvent]:
        """Each TikTok event with its source."""
        return list(map(MappedEvent, self.payloads, self.sources))

    def match_keys(self) -> dict[str, int]:
        """How many mapped events carry each match key: `count_match_keys` of the mapped payloads."""
        return count_key_masks(self.key_masks)

    def requests(self, pixel_id: str, test_event_code: str | None = None) -> list[TikTokRequest]:
        """The mapped events in the fewest requests (`build_requests`)."""
        return _requests(self.payloads, self.sources, pixel_id, test_event_code)


def map_batches(batches: Iterable[Batch], settings: MappingSettings) -> MappingResult:
    """Map every event of every batch; each one is mapped or skipped with a reason."""
    result = MappingResult()
    mappings: dict[str, tuple[CustomMapping, ...]] = {}  # by the event type they match, in list order
    for mapping in settings.custom_mappings:
        mappings[mapping.event_type] = (*mappings.get(mapping.event_type, ()), mapping)
    native = native_events(settings.match.purchase_event)
    for batch in batches:
        _map_batch(batch, settings, mappings, native, result)
    return result


def native_events(purchase_event: str) -> dict[str, str]:
    """The native table with the TikTok event the Purchase Event setting chooses for `purchase`."""
    if purchase_event == NATIVE_COMMERCE_EVENTS["purchase"]:
        return NATIVE_COMMERCE_EVENTS
    return {**NATIVE_COMMERCE_EVENTS, "purchase": purchase_event}


def build_requests(
    events: Sequence[MappedEvent], pixel_id: str, test_event_code: str | None = None
) -> list[TikTokRequest]:
    """The fewest requests of at most 1,000 events each (TikTok rejects larger ones whole)."""
    payloads = [event.payload for event in events]
    return _requests(payloads, [event.source for event in events], pixel_id, test_event_code)


def _requests(
    payloads: list[JsonObject], sources: list[SourceRef], pixel_id: str, test_event_code: str | None
) -> list[TikTokRequest]:
    requests = []
    for start in range(0, len(payloads), MAX_EVENTS_PER_REQUEST):
        body: JsonObject = {"event_source": "web", "event_source_id": pixel_id}
        if test_event_code:
            body["test_event_code"] = test_event_code
        body["data"] = payloads[start : start + MAX_EVENTS_PER_REQUEST]
        requests.append(TikTokRequest(body=body, sources=sources[start : start + MAX_EVENTS_PER_REQUEST]))
    return requests


# --- per batch -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _BatchContext:
    """The fields that are the same for every event of a batch, formatted once."""

    scope: Scope
    values: list[JsonObject]
    """The batch's values per object of the batch plan (each event's objects start as copies)."""
    missing: list[str]
    """Warnings of absent batch fields, counted for each forwarded event."""
    identified: bool
    user_mask: int
    """The match-key fields of the batch's `user` values (`user_key_mask`), shared by its events."""


_NO_EVENT: Final = Event("unknown")
_COMMERCE: Final = "commerce_event"


def _batch_context(batch: Batch, settings: MappingSettings, warnings: Counter[str]) -> _BatchContext:
    scope = Scope(batch, settings, warnings, _NO_EVENT)
    values: list[JsonObject] = [{} for _ in BATCH_PLAN.objects]
    missing: list[str] = []
    BATCH_PLAN.apply(values, scope, scope, missing)
    for name in scope.pending:  # e.g. an unparseable phone number: once per batch
        warnings[name] += 1
    identified = any(key in values[index] for index, key in IDENTIFIERS)
    user = values[BATCH_PLAN.objects.index("user")]
    return _BatchContext(scope, values, missing, identified, user_key_mask(user))


# --- per event -----------------------------------------------------------------------------------------


def _map_batch(
    batch: Batch,
    settings: MappingSettings,
    mappings: dict[str, tuple[CustomMapping, ...]],
    native: dict[str, str],
    result: MappingResult,
) -> None:
    context: _BatchContext | None = None  # formatted once per batch, only when an event needs it
    purpose = settings.match.gdpr_consent_purpose
    consented = purpose is None or batch.consent.gdpr.get(purpose) is True
    result.received += len(batch.events)
    skipped, payloads, sources, key_masks = result.skipped, result.payloads, result.sources, result.key_masks
    for event in batch.events:
        if event.invalid_reason is not None:
            skipped["invalid_event"] += 1
            continue
        candidates = mappings.get(event.event_type)
        mapping = find_custom_mapping(candidates, event) if candidates else None
        if mapping is not None:
            tiktok_event: str | None = mapping.tiktok_event
        else:  # the native table: product actions of commerce events
            action = event.product_action if event.event_type == _COMMERCE else None
            tiktok_event = native.get(action) if action is not None else None
        if tiktok_event is None:
            skipped["unsupported_event"] += 1
            continue
        if not consented:
            skipped["no_consent"] += 1
            continue
        if context is None:
            context = _batch_context(batch, settings, result.warnings)
        if not context.identified and not (
            settings.match.forward_anonymous_with_click_id and _carries_click_key(context.scope, event)
        ):
            skipped["no_identifiers"] += 1
            continue
        payload = _tiktok_event(context, event, tiktok_event, mapping)
        if isinstance(payload, str):
            skipped[payload] += 1
            continue
        # Forwarded: now the warnings of its values count (the parser's and the formatting steps').
        if event.warnings or context.scope.pending:
            for name in (*event.warnings, *context.scope.pending):
                result.warnings[name] += 1
        user = payload.get("user")
        assert user is None or isinstance(user, dict)
        key_masks[
            context.user_mask | user_key_mask(user, EVENT_USER_KEYS) if user else context.user_mask
        ] += 1
        assert event.event_id is not None  # the parsers always assign one
        payloads.append(payload)
        sources.append(SourceRef(event.event_id, batch.batch_id, event.source_event_id))


def _carries_click_key(scope: Scope, event: Event) -> bool:
    """Whether the event would reach TikTok with a click id or a `_ttp` cookie value."""
    scope.event = event
    for get, step in CLICK_KEYS:
        value = get(scope)
        if value is not None and (step is None or step(value, scope) is not None):
            return True
    return False


def _tiktok_event(
    context: _BatchContext, event: Event, tiktok_event: str, mapping: CustomMapping | None
) -> JsonObject | str:
    """The TikTok event, or the reason it is skipped (a required field without a value)."""
    scope = context.scope
    scope.event, scope.tiktok_event = event, tiktok_event
    scope.pending.clear()
    if context.missing:
        scope.pending.extend(context.missing)
    payload = PLANS_BY_TYPE.get(event.event_type, EVENT_PLAN).apply(
        context.values, scope, scope, scope.pending
    )
    if isinstance(payload, str):
        return payload  # the skip reason
    if mapping is not None and mapping.properties:
        properties = payload.pop("properties", {})
        assert isinstance(properties, dict)
        properties = apply_mapped_properties(mapping, event, properties, scope)
        if properties:
            payload["properties"] = properties
    return payload

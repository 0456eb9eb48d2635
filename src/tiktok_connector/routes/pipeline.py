"""The one pipeline both protocols share: map, build requests, deliver, summarise."""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from tiktok_connector.delivery.deliver import deliver
from tiktok_connector.delivery.report import DeliveryReport
from tiktok_connector.delivery.tiktok_client import TokenSource
from tiktok_connector.mapping.mapper import MappingResult, map_batches
from tiktok_connector.mapping.match_keys import count_match_keys, request_events
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.model.events import Batch
from tiktok_connector.platform.observability import logger, metrics, tracer

_MAX_LOGGED_IDS: Final = 20
_MAX_LOGGED_ID: Final = 64


@dataclass(slots=True)
class PipelineOutcome:
    mapping: MappingResult
    delivery: DeliveryReport
    match_keys: dict[str, int]
    """How many forwarded events carried each match key (only what TikTok accepted counts)."""
    _summary: dict[str, object] | None = field(default=None, repr=False, compare=False)

    @property
    def warnings(self) -> Counter[str]:
        """Mapping's warnings and delivery's (`tiktok_partial_success`) together."""
        merged = Counter(self.mapping.warnings)
        merged.update(self.delivery.warnings)
        return merged

    @property
    def unaccounted(self) -> int:
        """Events neither delivered nor dead-lettered: mParticle must resend (503)."""
        return self.delivery.unaccounted

    def summary(self) -> dict[str, object]:
        """The 200 answer: received = forwarded + all skipped + dead_lettered (+ unaccounted on 503).

        Made once (the log line and the answer share it): the outcome does not change after delivery.
        """
        if self._summary is None:
            self._summary = self._summarise()
        return self._summary

    def _summarise(self) -> dict[str, object]:
        body: dict[str, object] = {
            "received": self.mapping.received,
            "forwarded": self.delivery.forwarded,
            "skipped": dict(sorted(self.mapping.skipped.items())),
            "dead_lettered": self.delivery.dead_lettered,
            "warnings": dict(sorted(self.warnings.items())),
            "tiktok_requests": self.delivery.tiktok_requests,
            "match_keys": self.match_keys,
        }
        if self.delivery.dead_letter_reasons:
            body["dead_letter_reasons"] = dict(sorted(self.delivery.dead_letter_reasons.items()))
        if self.unaccounted:
            body["unaccounted"] = self.unaccounted
        if self.delivery.resend_reasons:
            body["resend_reasons"] = dict(sorted(self.delivery.resend_reasons.items()))
        return body


@tracer.capture_method(capture_response=False)
def process_batches(
    batches: Sequence[Batch],
    *,
    pixel_id: str,
    mapping_settings: MappingSettings,
    test_event_code: str | None,
    api_url: str,
    queue_url: str,
    token_source: TokenSource,
    remaining_ms: Callable[[], int],
    origin: str,
    bucket: str | None,
    token_from_request: bool = False,
) -> PipelineOutcome:
    # Correlation: every later log line of this invocation names the batches (ids only, no personal data).
    logger.append_keys(**_batch_keys(batches))
    mapped = map_batches(batches, mapping_settings)
    requests = mapped.requests(pixel_id, test_event_code)
    report = deliver(
        requests,
        api_url=api_url,
        token_source=token_source,
        queue_url=queue_url,
        remaining_ms=remaining_ms,
        origin=origin,
        token_from_request=token_from_request,
        bucket=bucket,
    )
    outcome = PipelineOutcome(
        mapping=mapped,
        delivery=report,
        match_keys=(
            mapped.match_keys()  # every mapped event accepted: counted while mapping, at once
            if report.forwarded == len(mapped.payloads)
            else count_match_keys(request_events(report.forwarded_requests))
        ),
    )
    _record(outcome)
    return outcome


def _batch_keys(batches: Sequence[Batch]) -> dict[str, object]:
    """The batch ids for the log lines: bounded (they repeat on every line) and always writable as UTF-8."""
    ids = [batch.batch_id for batch in batches if batch.batch_id]
    keys: dict[str, object] = {
        "batch_ids": [
            text[:_MAX_LOGGED_ID].encode("utf-8", "backslashreplace").decode("utf-8")
            for text in ids[:_MAX_LOGGED_IDS]
        ]
    }
    if len(ids) > _MAX_LOGGED_IDS:
        keys["batch_id_count"] = len(ids)
    return keys


def _record(outcome: PipelineOutcome) -> None:
    mapped, report = outcome.mapping, outcome.delivery
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=mapped.received)
    metrics.add_metric(name="EventsForwarded", unit=MetricUnit.Count, value=report.forwarded)
    metrics.add_metric(name="EventsSkipped", unit=MetricUnit.Count, value=mapped.skipped.total())
    for reason, count in mapped.skipped.items():
        metrics.add_metric(name=f"EventsSkipped_{reason}", unit=MetricUnit.Count, value=count)
    for warning, count in outcome.warnings.items():
        metrics.add_metric(name=f"Warning_{warning}", unit=MetricUnit.Count, value=count)
    for key, count in outcome.match_keys.items():
        # Divided by EventsForwarded on a dashboard: the share of forwarded events TikTok can match by key.
        metrics.add_metric(name=f"ForwardedWith_{key}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name="EventsDeadLettered", unit=MetricUnit.Count, value=report.dead_lettered)
    metrics.add_metric(name="TikTokRequests", unit=MetricUnit.Count, value=report.tiktok_requests)
    metrics.add_metric(name="TikTokRetries", unit=MetricUnit.Count, value=report.retries)
    if report.splits:
        metrics.add_metric(name="TikTokRequestSplits", unit=MetricUnit.Count, value=report.splits)
    for latency in report.latencies_ms:
        metrics.add_metric(name="TikTokLatency", unit=MetricUnit.Milliseconds, value=latency)
    if report.unaccounted:
        metrics.add_metric(name="EventsUnaccounted", unit=MetricUnit.Count, value=report.unaccounted)
    if report.resend_reasons:
        handed_back = report.resend_reasons.total()
        metrics.add_metric(name="EventsHandedBackForResend", unit=MetricUnit.Count, value=handed_back)
    logger.info("batch processed", extra={"summary": outcome.summary()})

"""Lambda entry point of the redrive (`RedriveFunction`): one run through the dead-letter queue."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tiktok_connector.platform.observability import logger, metrics, tracer
from tiktok_connector.redrive.runner import run_from_environment
from tiktok_connector.redrive.settings import invocation_options


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    """Run once through the dead-letter queue and answer the report (logged and counted too)."""
    dry_run, max_messages = invocation_options(event)
    report = run_from_environment(
        dry_run=dry_run, max_messages=max_messages, remaining_ms=context.get_remaining_time_in_millis
    )
    # A dry run changes nothing: its counts are all zero.
    metrics.add_metric(name="EventsRedriven", unit=MetricUnit.Count, value=report.events_redriven)
    metrics.add_metric(name="DeadLettersRedriven", unit=MetricUnit.Count, value=report.messages_redriven)
    metrics.add_metric(name="DeadLettersParked", unit=MetricUnit.Count, value=report.parked.total())
    metrics.add_metric(name="DeadLettersRequeued", unit=MetricUnit.Count, value=report.requeued.total())
    summary = report.to_dict()
    if report.stopped in (None, "deadline"):
        logger.info("redrive finished", extra={"report": summary})
    else:
        logger.warning("redrive stopped early", extra={"report": summary})
    return summary

"""Lambda entry point: routes, and the one place where domain errors become HTTP statuses."""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tiktok_connector import firehose_route, webhook_route
from tiktok_connector.errors import (
    BadRequestError,
    ConfigurationError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnavailableError,
)
from tiktok_connector.http_edge import error_response
from tiktok_connector.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()


@app.post("/events")
def post_events() -> Response[str]:
    return webhook_route.handle(app.current_event.raw_event, app.lambda_context)


@app.post("/firehose")
def post_firehose() -> Response[str]:
    return firehose_route.handle(app.current_event.raw_event, app.lambda_context)


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return error_response(
        404,
        "not_found",
        "no such route: POST /events (Webhook) and POST /firehose (Firehose) are the endpoints",
    )


@app.exception_handler(BadRequestError)
def bad_request(error: BadRequestError) -> Response[str]:
    return _answer(400, "bad_request", error)


@app.exception_handler(UnauthorizedError)
def unauthorized(error: UnauthorizedError) -> Response[str]:
    return _answer(401, "unauthorized", error)


@app.exception_handler(PayloadTooLargeError)
def payload_too_large(error: PayloadTooLargeError) -> Response[str]:
    return _answer(413, "payload_too_large", error)


@app.exception_handler(ConfigurationError)
def misconfigured(error: ConfigurationError) -> Response[str]:
    metrics.add_metric(name="RequestsMisconfigured", unit=MetricUnit.Count, value=1)
    logger.error("configuration is invalid", extra={"problem": str(error)})
    return error_response(500, "misconfigured", str(error))


@app.exception_handler(UnavailableError)
def unavailable(error: UnavailableError) -> Response[str]:
    metrics.add_metric(name="RequestsUnavailable", unit=MetricUnit.Count, value=1)
    logger.warning("dependency unavailable", extra={"problem": str(error)})
    return error_response(503, "unavailable", str(error))


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[str]:
    # The exception's text might hold request data: log its type and where it happened only.
    request_id = app.current_event.request_context.request_id
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    where = f"{traceback.tb_frame.f_code.co_filename}:{traceback.tb_lineno}" if traceback else "unknown"
    metrics.add_metric(name="RequestsFailed", unit=MetricUnit.Count, value=1)
    logger.error("unexpected error", extra={"error_type": type(error).__name__, "where": where})
    return error_response(
        500, "internal_error", "unexpected error; quote the request id", request_id=request_id
    )


def _answer(status: int, error: str, exception: Exception) -> Response[str]:
    metrics.add_metric(name=f"RequestsRefused_{status}", unit=MetricUnit.Count, value=1)
    logger.info("request refused", extra={"status": status, "error": error, "reason": str(exception)})
    return error_response(status, error, str(exception))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

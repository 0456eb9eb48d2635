"""Lambda entry point: routes, and the one place where domain errors become HTTP statuses.

Routing is a dictionary on the HTTP API's route key. Powertools' APIGatewayHttpResolver did the same
job but its package import (every resolver, asyncio, data classes) cost ~60 ms of each cold start
(BENCHMARKS.md); the two routes need none of it.
"""

import random
from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tiktok_connector.config import get_settings
from tiktok_connector.delivery import dead_letters, letter_store, tiktok_client
from tiktok_connector.platform.errors import (
    BadRequestError,
    ConfigurationError,
    ForbiddenError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnavailableError,
)
from tiktok_connector.platform.http_edge import HttpResponse, error_response
from tiktok_connector.platform.observability import logger, metrics, tracer
from tiktok_connector.platform.secret_store import clear_secret_cache, load_libraries
from tiktok_connector.platform.snapstart import register_after_restore, register_before_snapshot
from tiktok_connector.routes import firehose as firehose_route
from tiktok_connector.routes import webhook as webhook_route

Route = Callable[[Mapping[str, object], LambdaContext], HttpResponse]
ROUTES: Final[dict[tuple[str, str], Route]] = {
    ("POST", "/events"): webhook_route.handle,
    ("POST", "/firehose"): firehose_route.handle,
}
_REFUSALS: Final[tuple[tuple[type[Exception], int, str], ...]] = (
    (BadRequestError, 400, "bad_request"),
    (UnauthorizedError, 401, "unauthorized"),
    (ForbiddenError, 403, "forbidden"),
    (PayloadTooLargeError, 413, "payload_too_large"),
)


def route(event: Mapping[str, Any], context: LambdaContext) -> HttpResponse:
    """Dispatch one API Gateway HTTP API event and map every error to its status, here only."""
    method, path = _method_and_path(event)
    handle = ROUTES.get((method, path))
    if handle is None:
        known = any(route_path == path for _, route_path in ROUTES)
        status, error = (405, "method_not_allowed") if known else (404, "not_found")
        return error_response(
            status, error, "POST /events (Webhook) and POST /firehose (Firehose) are the endpoints"
        )
    try:
        return handle(event, context)
    except ConfigurationError as problem:
        metrics.add_metric(name="RequestsMisconfigured", unit=MetricUnit.Count, value=1)
        logger.error("configuration is invalid", extra={"problem": str(problem)})
        return error_response(500, "misconfigured", str(problem))
    except UnavailableError as problem:
        metrics.add_metric(name="RequestsUnavailable", unit=MetricUnit.Count, value=1)
        logger.warning("dependency unavailable", extra={"problem": str(problem)})
        return error_response(503, "unavailable", str(problem))
    except (BadRequestError, UnauthorizedError, ForbiddenError, PayloadTooLargeError) as refusal:
        status, error = next((s, e) for kind, s, e in _REFUSALS if isinstance(refusal, kind))
        metrics.add_metric(name=f"RequestsRefused_{status}", unit=MetricUnit.Count, value=1)
        logger.info("request refused", extra={"status": status, "error": error, "reason": str(refusal)})
        return error_response(status, error, str(refusal))
    except Exception as unexpected:
        return _internal_error(unexpected, event)


def _method_and_path(event: Mapping[str, Any]) -> tuple[str, str]:
    route_key = event.get("routeKey")
    if isinstance(route_key, str) and " " in route_key:
        method, path = route_key.split(" ", 1)
        return method.upper(), path
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    given_method = http.get("method") if isinstance(http, dict) else None
    given_path = event.get("rawPath")
    return (
        given_method.upper() if isinstance(given_method, str) else "",
        given_path if isinstance(given_path, str) else "",
    )


def _internal_error(error: Exception, event: Mapping[str, Any]) -> HttpResponse:
    # The exception's text might hold request data: log its type and where it happened only.
    context = event.get("requestContext")
    request_id = context.get("requestId") if isinstance(context, dict) else None
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    where = f"{traceback.tb_frame.f_code.co_filename}:{traceback.tb_lineno}" if traceback else "unknown"
    metrics.add_metric(name="RequestsFailed", unit=MetricUnit.Count, value=1)
    logger.error("unexpected error", extra={"error_type": type(error).__name__, "where": where})
    return error_response(
        500, "internal_error", "unexpected error; quote the request id", request_id=request_id
    )


def report_configuration() -> None:
    """Validate the configuration at start-up and say by name what is wrong (requests answer 500)."""
    try:
        settings = get_settings()
    except ConfigurationError as problem:
        logger.error("configuration is invalid", extra={"problem": str(problem)})
        return
    if settings.webhook_problem:
        logger.warning(
            "the Webhook route (/events) is not configured", extra={"problem": settings.webhook_problem}
        )


report_configuration()


@register_before_snapshot
def load_before_snapshot() -> None:
    """With SnapStart: import now what the first secret read needs (~80 ms, boto3 above all).

    Without SnapStart the first invocation imports it (the handler's import stays short); a snapshot
    taken after this carries it to every restored copy. No client is made here: its credentials and
    connections would be the snapshot's.
    """
    load_libraries()


@register_after_restore
def refresh_after_restore() -> None:
    """After a SnapStart restore: read the secret afresh, open new connections, reseed `random`.

    The snapshot may be hours old (the token rotated since), its sockets are dead, and every restored
    copy would otherwise draw the same retry jitter.
    """
    clear_secret_cache()
    tiktok_client.reset_session()
    dead_letters.reset_sqs_client()
    letter_store.reset_s3_client()
    random.seed()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    # The API Gateway request id on every log line: what `correlation_id_path` (a JMESPath query, ~6 µs
    # per invocation) would set, read directly.
    logger.set_correlation_id(_request_id(event))
    return route(event, context)


def _request_id(event: Mapping[str, Any]) -> str | None:
    """`requestContext.requestId` (Powertools' `correlation_paths.API_GATEWAY_HTTP`), when there is one."""
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    request_id = context.get("requestId") if isinstance(context, Mapping) else None
    return request_id if isinstance(request_id, str) else None

"""`POST /firehose`: mParticle's partner protocol (Firehose over HTTPS).

The `Authorization: Token <token>` header is checked before the body is read. Registration is the one
exception (mParticle imports it before it issues the token): a caller who does not pass the check may
still get the registration answer, but only for a small body (`REGISTRATION_MAX_BYTES`); anything
larger or anything else is refused with 401 unparsed, as cheaply as on `/events`.
"""

from collections.abc import Mapping
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tiktok_connector.config import Settings, get_settings
from tiktok_connector.inbound.firehose import (
    EVENT_PROCESSING_REQUEST,
    NOOP_RESPONSES,
    REGISTRATION_REQUEST,
    connection_settings,
    message_id,
    message_type,
    parse_event_processing_request,
    parse_message,
)
from tiktok_connector.inbound.json_body import parse_json
from tiktok_connector.inbound.registration import (
    ACCESS_TOKEN,
    PIXEL_ID,
    registration_response,
    response_envelope,
)
from tiktok_connector.platform.errors import (
    BadRequestError,
    ConfigurationError,
    ForbiddenError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnavailableError,
)
from tiktok_connector.platform.http_edge import (
    HttpResponse,
    json_response,
    pipeline_response,
    refuse_oversized_body,
    request_body,
)
from tiktok_connector.platform.observability import logger, metrics
from tiktok_connector.platform.secret_store import ConnectorSecret, get_connector_secret
from tiktok_connector.routes.authentication import authenticate
from tiktok_connector.routes.pipeline import process_batches

REGISTRATION_MAX_BYTES: Final = 64 * 1024
"""The largest body read without authentication (a registration request is a few hundred bytes)."""


def handle(raw_event: Mapping[str, object], context: LambdaContext) -> HttpResponse:
    try:
        settings = get_settings()
        secret = authenticate(
            raw_event, settings.secret_id, "firehose_token", scheme="Token", unset_denies=True
        )
    except (UnauthorizedError, ConfigurationError, UnavailableError):
        # Registration needs nothing configured; any other request keeps its refusal.
        answer = _unauthenticated_registration(raw_event)
        if answer is None:
            raise
        return answer

    document = parse_json(request_body(raw_event))
    if message_type(document) == REGISTRATION_REQUEST:
        return _registration(document)
    message = parse_message(document)
    logger.info("firehose message", extra={"message_type": message.type, "message_id": message.id})
    if message.type == EVENT_PROCESSING_REQUEST:
        return _process_events(message.document, settings, secret, context)
    if message.type in NOOP_RESPONSES:
        # No audience or DSR support is registered: acknowledge, act on nothing.
        metrics.add_metric(name="FirehoseMessagesIgnored", unit=MetricUnit.Count, value=1)
        return json_response(200, response_envelope(NOOP_RESPONSES[message.type], message.id))
    raise BadRequestError(f"unsupported Firehose message type {message.type!r}")


def _unauthenticated_registration(raw_event: Mapping[str, object]) -> HttpResponse | None:
    """The registration answer for a small registration body; None for anything else (never parsed)."""
    refuse_oversized_body(raw_event)  # judged from the length alone: it costs no more than the 401
    try:
        document = parse_json(request_body(raw_event, max_bytes=REGISTRATION_MAX_BYTES))
    except (BadRequestError, PayloadTooLargeError):
        return None
    if message_type(document) != REGISTRATION_REQUEST:
        return None
    return _registration(document)


def _registration(document: object) -> HttpResponse:
    logger.info("firehose registration requested")
    metrics.add_metric(name="FirehoseRegistrations", unit=MetricUnit.Count, value=1)
    return json_response(200, registration_response(message_id(document)))


def _process_events(
    document: Mapping[str, object], settings: Settings, secret: ConnectorSecret, context: LambdaContext
) -> HttpResponse:
    request = parse_event_processing_request(document)
    connection = connection_settings(
        request.account_settings,
        default_phone_region=settings.default_phone_region,
        custom_mappings=settings.custom_mappings,
        match=settings.match,
    )
    request_token = connection.access_token
    if request_token is None and not secret.tiktok_access_token:
        raise BadRequestError(
            f"account setting {ACCESS_TOKEN} is required (the connector's secret has no tiktok_access_token)"
        )
    if request_token is None and connection.pixel_id not in settings.allowed_pixel_ids:
        # The connector's own token serves only the pixels its operator listed; nothing is sent.
        raise ForbiddenError(
            f"account setting {PIXEL_ID} {connection.pixel_id[:64]!r} is not a pixel this connector may "
            f"reach with its own access token (ALLOWED_PIXEL_IDS); set the connection's {ACCESS_TOKEN}"
        )

    def token_source(force_fetch: bool) -> str | None:
        # A token from the request cannot be refetched: a rejection of it is final (token_rejected).
        if request_token is not None:
            return request_token
        return get_connector_secret(settings.secret_id, force_fetch=force_fetch).tiktok_access_token

    outcome = process_batches(
        [request.batch],
        pixel_id=connection.pixel_id,
        mapping_settings=connection.mapping,
        test_event_code=settings.test_event_code,
        api_url=settings.tiktok_api_url,
        queue_url=settings.dead_letter_queue_url,
        token_source=token_source,
        remaining_ms=context.get_remaining_time_in_millis,
        origin="firehose",
        token_from_request=request_token is not None,
        bucket=settings.dead_letter_bucket,
    )
    answer = {**response_envelope("event_processing_response", request.id), **outcome.summary()}
    return pipeline_response(outcome.unaccounted, answer)

"""`POST /events`: mParticle's Webhook output (the outbound JSON batch of mParticle's JSON reference)."""

from collections.abc import Mapping

from aws_lambda_powertools.utilities.typing import LambdaContext

from tiktok_connector.config import get_settings
from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.platform.errors import ConfigurationError
from tiktok_connector.platform.http_edge import (
    HttpResponse,
    pipeline_response,
    request_body,
)
from tiktok_connector.platform.secret_store import get_connector_secret
from tiktok_connector.routes.authentication import authenticate
from tiktok_connector.routes.pipeline import process_batches


def handle(raw_event: Mapping[str, object], context: LambdaContext) -> HttpResponse:
    settings = get_settings()
    secret = authenticate(raw_event, settings.secret_id, "mparticle_authorization")
    # After authentication: only mParticle learns that the Webhook route's settings are wrong.
    pixel_id, mapping_settings = settings.webhook_settings()
    if not secret.tiktok_access_token:
        raise ConfigurationError("the secret has no tiktok_access_token value")

    batches = parse_webhook_body(request_body(raw_event))

    latest = [secret]  # the secret authentication just read; a fresh read replaces it

    def token_source(force_fetch: bool) -> str | None:
        if force_fetch:
            latest[0] = get_connector_secret(settings.secret_id, force_fetch=True)
        return latest[0].tiktok_access_token

    outcome = process_batches(
        batches,
        pixel_id=pixel_id,
        mapping_settings=mapping_settings,
        test_event_code=settings.test_event_code,
        api_url=settings.tiktok_api_url,
        queue_url=settings.dead_letter_queue_url,
        token_source=token_source,
        remaining_ms=context.get_remaining_time_in_millis,
        origin="webhook",
        bucket=settings.dead_letter_bucket,
    )
    return pipeline_response(outcome.unaccounted, outcome.summary())

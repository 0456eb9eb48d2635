"""Configuration: the function's environment variables (template.yaml sets them from stack parameters),
validated once per cold start into typed settings.

Rule for deployments that serve only Firehose: `TIKTOK_PIXEL_ID`, the identity types and the content
type belong to the Webhook route. Their problems are kept in `webhook_problem` and reported (500
`misconfigured`) only by `/events`; everything else is shared and fails every route.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tiktok_connector.mapping.custom import CustomMapping, parse_custom_mappings
from tiktok_connector.mapping.settings import (
    DEFAULT_MATCH_SETTINGS,
    MappingSettings,
    MatchSettings,
    validated_mapping_settings,
    validated_match_settings,
    validated_phone_region,
)
from tiktok_connector.platform.environment import variables_key
from tiktok_connector.platform.errors import ConfigurationError
from tiktok_connector.platform.observability import logger

DEFAULT_TIKTOK_API_URL = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
_PIXEL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Settings:
    secret_id: str
    dead_letter_queue_url: str
    tiktok_api_url: str
    test_event_code: str | None
    default_phone_region: str
    custom_mappings: tuple[CustomMapping, ...]
    pixel_id: str | None
    webhook_mapping: MappingSettings | None
    webhook_problem: str | None = None
    allowed_pixel_ids: frozenset[str] = frozenset()
    """Pixels a Firehose request without its own access token may reach with the connector's token."""
    dead_letter_bucket: str | None = None
    """S3 bucket for dead letters larger than one SQS message; without it such a batch is answered 503."""
    match: MatchSettings = DEFAULT_MATCH_SETTINGS
    """Consent and match-quality settings: deployment-wide, applied to both routes' mapping settings."""

    def webhook_settings(self) -> tuple[str, MappingSettings]:
        """The Pixel Id and mapping settings of the Webhook route, or the reason it is misconfigured."""
        if self.webhook_problem is not None or self.pixel_id is None or self.webhook_mapping is None:
            raise ConfigurationError(self.webhook_problem or "TIKTOK_PIXEL_ID is required")
        return self.pixel_id, self.webhook_mapping


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read and validate the environment; a shared problem raises ConfigurationError naming it."""

    def value(name: str, default: str = "") -> str:
        return environ.get(name, default).strip() or default

    secret_id = value("SECRET_ID")
    if not secret_id:
        raise ConfigurationError("SECRET_ID is required (the Secrets Manager secret name or ARN)")
    queue_url = value("DEAD_LETTER_QUEUE_URL")
    if not queue_url:
        raise ConfigurationError("DEAD_LETTER_QUEUE_URL is required (the SQS dead-letter queue URL)")
    api_url = value("TIKTOK_API_URL", DEFAULT_TIKTOK_API_URL)
    if not api_url.startswith(("https://", "http://")):
        raise ConfigurationError("TIKTOK_API_URL must be an http(s) URL")
    region = validated_phone_region(value("DEFAULT_PHONE_REGION", "US"), "DEFAULT_PHONE_REGION")
    custom_mappings = parse_custom_mappings(value("CUSTOM_MAPPINGS", "[]"))
    match = validated_match_settings(
        limited_data_use=value("LIMITED_DATA_USE", "consent"),
        gdpr_consent_purpose=value("GDPR_CONSENT_PURPOSE"),
        forward_anonymous_with_click_id=value("FORWARD_ANONYMOUS_WITH_CLICK_ID", "false"),
        purchase_event=value("PURCHASE_EVENT", "PlaceAnOrder"),
        label=lambda name: name.upper(),
    )

    pixel_id = value("TIKTOK_PIXEL_ID") or None
    webhook_mapping: MappingSettings | None = None
    problem: str | None = None
    try:
        webhook_mapping = validated_mapping_settings(
            email_identity_type=value("EMAIL_IDENTITY_TYPE", "email"),
            external_identity_type=value("EXTERNAL_IDENTITY_TYPE", "customer_id"),
            phone_identity_type=value("PHONE_IDENTITY_TYPE", "mobile_number"),
            content_type=value("CONTENT_TYPE", "product"),
            default_phone_region=region,
            custom_mappings=custom_mappings,
            label=lambda name: name.upper(),
            match=match,
        )
    except ConfigurationError as error:
        problem = str(error)
    if problem is None and pixel_id is None:
        problem = "TIKTOK_PIXEL_ID is required for the Webhook route (/events)"
    allowed_pixel_ids = parse_allowed_pixel_ids(value("ALLOWED_PIXEL_IDS"), default=pixel_id)
    return Settings(
        secret_id=secret_id,
        dead_letter_queue_url=queue_url,
        tiktok_api_url=api_url,
        test_event_code=value("TIKTOK_TEST_EVENT_CODE") or None,
        default_phone_region=region,
        custom_mappings=custom_mappings,
        pixel_id=pixel_id,
        webhook_mapping=webhook_mapping,
        webhook_problem=problem,
        allowed_pixel_ids=allowed_pixel_ids,
        dead_letter_bucket=value("DEAD_LETTER_BUCKET") or None,
        match=match,
    )


def parse_allowed_pixel_ids(text: str, *, default: str | None) -> frozenset[str]:
    """`ALLOWED_PIXEL_IDS`: comma-separated pixel ids; unset or empty means `TIKTOK_PIXEL_ID` alone.

    No pixel id at all allows no pixel: a Firehose connection must then bring its own access token.
    """
    if not text:
        return frozenset({default} if default else ())
    allowed: set[str] = set()
    for position, entry in enumerate((part.strip() for part in text.split(",")), start=1):
        if not entry:
            continue  # a trailing or doubled comma
        if not _PIXEL_ID.fullmatch(entry):
            raise ConfigurationError(
                f"ALLOWED_PIXEL_IDS entry {position} is not a pixel id "
                "(comma-separated ids of letters, digits, '-' or '_')"
            )
        allowed.add(entry)
    return frozenset(allowed)


SETTINGS_VARIABLES = (
    "TIKTOK_PIXEL_ID",
    "SECRET_ID",
    "DEAD_LETTER_QUEUE_URL",
    "TIKTOK_API_URL",
    "EMAIL_IDENTITY_TYPE",
    "EXTERNAL_IDENTITY_TYPE",
    "PHONE_IDENTITY_TYPE",
    "CONTENT_TYPE",
    "DEFAULT_PHONE_REGION",
    "TIKTOK_TEST_EVENT_CODE",
    "CUSTOM_MAPPINGS",
    "ALLOWED_PIXEL_IDS",
    "DEAD_LETTER_BUCKET",
    "LIMITED_DATA_USE",
    "GDPR_CONSENT_PURPOSE",
    "FORWARD_ANONYMOUS_WITH_CLICK_ID",
    "PURCHASE_EVENT",
)
_settings_key = variables_key(SETTINGS_VARIABLES)
_cached: Settings | ConfigurationError | None = None
_cached_for: tuple[object, ...] = ()


def get_settings() -> Settings:
    """Settings of this container, validated once; a problem is kept and raised every time.

    Lambda's environment never changes inside a container, so this validates once per cold start; a
    process whose environment does change (a test run, a long-lived local host) gets fresh settings.
    """
    global _cached, _cached_for  # noqa: PLW0603 - one value per cold start, by design
    key = _settings_key()
    if _cached is None or key != _cached_for:
        _cached_for = key
        try:
            _cached = load_settings(os.environ)
        except ConfigurationError as error:
            _cached = error
        else:
            _warn_without_bucket(_cached)
    if isinstance(_cached, ConfigurationError):
        raise _cached
    return _cached


def _warn_without_bucket(settings: Settings) -> None:
    """Once per load: without a bucket, a dead letter over one SQS message cannot be kept anywhere."""
    if settings.dead_letter_bucket is None:
        logger.warning(
            "DEAD_LETTER_BUCKET is not set: a batch whose dead letter exceeds one SQS message "
            "(a single event over 1 MiB) will be answered 503"
        )


def reset_settings() -> None:
    """Forget the cached settings."""
    global _cached  # noqa: PLW0603
    _cached = None

"""What a redrive run is told: the environment's settings and a manual invocation's options."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from tiktok_connector.config import get_settings
from tiktok_connector.platform.errors import ConfigurationError

DEFAULT_MAX_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class RedriveSettings:
    secret_id: str
    queue_url: str
    parking_queue_url: str | None
    api_url: str
    max_attempts: int
    bucket: str | None = None
    """The dead-letter bucket, for letters that have grown past one SQS message."""


def load_redrive_settings(environ: Mapping[str, str] | None = None) -> RedriveSettings:
    """The shared settings (SECRET_ID, DEAD_LETTER_QUEUE_URL, TIKTOK_API_URL, DEAD_LETTER_BUCKET) plus
    the redrive's own."""
    environ = os.environ if environ is None else environ
    shared = get_settings()
    raw_attempts = environ.get("REDRIVE_MAX_ATTEMPTS", "").strip() or str(DEFAULT_MAX_ATTEMPTS)
    try:
        max_attempts = int(raw_attempts)
    except ValueError:
        max_attempts = 0
    if max_attempts < 1:
        raise ConfigurationError(
            f"REDRIVE_MAX_ATTEMPTS must be a whole number of at least 1, not {raw_attempts!r}"
        )
    parking = environ.get("PARKING_QUEUE_URL", "").strip() or None
    if parking is not None and not parking.startswith(("https://", "http://")):
        raise ConfigurationError("PARKING_QUEUE_URL must be an SQS queue URL")
    if parking == shared.dead_letter_queue_url:
        raise ConfigurationError("PARKING_QUEUE_URL must not be the dead-letter queue itself")
    return RedriveSettings(
        secret_id=shared.secret_id,
        queue_url=shared.dead_letter_queue_url,
        parking_queue_url=parking,
        api_url=shared.tiktok_api_url,
        max_attempts=max_attempts,
        bucket=shared.dead_letter_bucket,
    )


def invocation_options(event: object) -> tuple[bool, int | None]:
    """`{"dry_run": true, "max_messages": N}` from a manual invocation; a schedule event has neither."""
    if not isinstance(event, dict):
        return False, None
    dry_run = event.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValueError("dry_run must be true or false")
    max_messages = event.get("max_messages")
    if max_messages is not None and (
        not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1
    ):
        raise ValueError("max_messages must be a whole number of at least 1")
    return dry_run, max_messages

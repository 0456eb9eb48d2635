"""Who may call: the request's Authorization header against the value kept in the secret (SPEC 7)."""

import time
from collections.abc import Mapping
from typing import Final, Literal

from tiktok_connector.platform.errors import ConfigurationError, UnauthorizedError
from tiktok_connector.platform.http_edge import require_authorization
from tiktok_connector.platform.secret_store import ConnectorSecret, get_connector_secret

Credential = Literal["mparticle_authorization", "firehose_token"]
# A refused header may mean the credential was just rotated (mParticle does not retry a 401, so a
# stale cache would lose events): read the secret again, at most this often per container.
REFRESH_INTERVAL_S: Final = 1.0
_last_refresh = 0.0


def authenticate(
    raw_event: Mapping[str, object], secret_id: str, credential: Credential, *, scheme: str | None = None
) -> ConnectorSecret:
    """The secret, once the request proved it knows `credential`; an empty credential denies all."""
    global _last_refresh  # noqa: PLW0603 - one throttle per container
    secret = get_connector_secret(secret_id)
    try:
        _check(raw_event, secret, credential, scheme)
    except UnauthorizedError:
        now = time.monotonic()
        if now - _last_refresh < REFRESH_INTERVAL_S:
            raise
        _last_refresh = now
        secret = get_connector_secret(secret_id, force_fetch=True)
        _check(raw_event, secret, credential, scheme)
    return secret


def _check(
    raw_event: Mapping[str, object], secret: ConnectorSecret, credential: Credential, scheme: str | None
) -> None:
    expected = getattr(secret, credential)
    if not expected:
        raise ConfigurationError(f"the secret has no {credential} value")
    require_authorization(raw_event, expected, scheme=scheme)

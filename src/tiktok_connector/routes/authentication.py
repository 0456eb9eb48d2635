"""Who may call: the request's Authorization header against the secret's value.

Compared in constant time; deny by default."""

import time
from collections.abc import Mapping
from typing import Final, Literal

from tiktok_connector.platform.errors import ConfigurationError, UnauthorizedError
from tiktok_connector.platform.http_edge import require_authorization
from tiktok_connector.platform.observability import logger
from tiktok_connector.platform.secret_store import ConnectorSecret, get_connector_secret

Credential = Literal["mparticle_authorization", "firehose_token"]
# A refused header may mean the credential was just rotated (mParticle does not retry a 401, so a
# stale cache would lose events): read the secret again, at most this often per container.
REFRESH_INTERVAL_S: Final = 1.0
_last_refresh = 0.0
_reported_unset: set[str] = set()
"""Credentials already logged as missing from the secret (once per container, not per request)."""


class _CredentialUnsetError(UnauthorizedError):
    """The secret holds no value for the route's credential: every caller is refused."""


def authenticate(
    raw_event: Mapping[str, object],
    secret_id: str,
    credential: Credential,
    *,
    scheme: str | None = None,
    unset_denies: bool = False,
) -> ConnectorSecret:
    """The secret, once the request proved it knows `credential`; an empty credential denies all.

    An unset credential is a 500 `misconfigured`, unless `unset_denies`: then callers get 401 (a route
    that anonymous callers reach must not turn their requests into server errors) and the problem is
    logged once per container.
    """
    global _last_refresh  # noqa: PLW0603 - one throttle per container
    secret = get_connector_secret(secret_id)
    try:
        _check(raw_event, secret, credential, scheme, unset_denies)
    except UnauthorizedError as refusal:
        now = time.monotonic()
        if now - _last_refresh < REFRESH_INTERVAL_S:
            _report_unset(refusal, credential)
            raise
        _last_refresh = now
        secret = get_connector_secret(secret_id, force_fetch=True)
        try:
            _check(raw_event, secret, credential, scheme, unset_denies)
        except UnauthorizedError as again:
            _report_unset(again, credential)
            raise
    return secret


def _check(
    raw_event: Mapping[str, object],
    secret: ConnectorSecret,
    credential: Credential,
    scheme: str | None,
    unset_denies: bool,
) -> None:
    expected = getattr(secret, credential)
    if not expected:
        if unset_denies:
            raise _CredentialUnsetError(
                f"the Authorization header cannot be accepted: the connector's secret has no {credential}"
            )
        raise ConfigurationError(f"the secret has no {credential} value")
    require_authorization(raw_event, expected, scheme=scheme)


def _report_unset(refusal: UnauthorizedError, credential: Credential) -> None:
    if isinstance(refusal, _CredentialUnsetError) and credential not in _reported_unset:
        _reported_unset.add(credential)
        logger.error(
            "misconfigured: every request is refused with 401",
            extra={"error": "misconfigured", "problem": f"the secret has no {credential} value"},
        )

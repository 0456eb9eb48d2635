"""The connector's secret in Secrets Manager, read through Powertools parameters (cached).

Powertools parameters and boto3 are imported with the first read, not with the handler: boto3 is
~150 ms of imports, and where an invocation starts with a cached secret nothing of it is needed. A cold
start pays it once either way (with SnapStart, `prepare_provider` runs before the snapshot instead).
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tiktok_connector.platform.aws import aws_client_key
from tiktok_connector.platform.errors import ConfigurationError, SecretUnavailableError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

SECRET_MAX_AGE_SECONDS: Final = 300
_provider: "SecretsProvider | None" = None
_provider_for: tuple[object, ...] = ()
_unreadable: tuple[type[Exception], type[Exception]] = (Exception, Exception)
"""Powertools' errors for a secret that is no JSON and for one that cannot be read (set on import)."""


@dataclass(frozen=True, slots=True)
class ConnectorSecret:
    """The secret's JSON keys (`tiktok_access_token`, `mparticle_authorization`, `firehose_token`).

    Values never appear in repr, logs or errors."""

    tiktok_access_token: str | None = field(default=None, repr=False)
    mparticle_authorization: str | None = field(default=None, repr=False)
    firehose_token: str | None = field(default=None, repr=False)


def load_libraries() -> None:
    """Import what the first secret read needs (Powertools parameters, boto3), without reading it."""
    from aws_lambda_powertools.utilities import parameters  # noqa: F401
    from botocore.config import Config  # noqa: F401


def prepare_provider() -> "SecretsProvider":
    """The container's Secrets Manager provider (and its boto3 client), made now if not yet made."""
    global _provider, _provider_for, _unreadable  # noqa: PLW0603 - one provider (and cache) per container
    if _provider is None or _provider_for != aws_client_key():
        from aws_lambda_powertools.utilities import (
            parameters,  # here, not at import: the module docstring says why
        )
        from botocore.config import Config

        _unreadable = (parameters.exceptions.TransformParameterError, parameters.exceptions.GetParameterError)

        # Fail fast: a stuck Secrets Manager call must not eat the time left for delivery.
        config = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2})
        _provider_for = aws_client_key()
        _provider = parameters.SecretsProvider(boto_config=config)
    return _provider


def get_connector_secret(secret_id: str, *, force_fetch: bool = False) -> ConnectorSecret:
    """The secret, from the cache unless `force_fetch` (e.g. after TikTok rejected the token)."""
    provider = prepare_provider()
    not_json, not_read = _unreadable
    try:
        document: Any = provider.get(
            secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force_fetch
        )
    except not_json:
        raise ConfigurationError("the secret SECRET_ID names is not a JSON object") from None
    except not_read:
        raise SecretUnavailableError(
            "the connector's secret could not be read from Secrets Manager"
        ) from None
    if not isinstance(document, dict):
        raise ConfigurationError("the secret SECRET_ID names is not a JSON object")
    return ConnectorSecret(
        tiktok_access_token=_text(document.get("tiktok_access_token")),
        mparticle_authorization=_text(document.get("mparticle_authorization")),
        firehose_token=_text(document.get("firehose_token")),
    )


def clear_secret_cache() -> None:
    """Drop cached secrets and the provider (tests point the connector at new endpoints; a SnapStart
    restore must not trust a secret or a connection from its snapshot)."""
    global _provider  # noqa: PLW0603
    if _provider is None:
        return  # nothing read yet: no cache (and no reason to import Powertools parameters for it)
    _provider = None
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

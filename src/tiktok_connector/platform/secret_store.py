"""The connector's secret in Secrets Manager, read through Powertools parameters (cached)."""

from dataclasses import dataclass, field
from typing import Any, Final

from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from tiktok_connector.platform.aws import aws_client_key
from tiktok_connector.platform.errors import ConfigurationError, SecretUnavailableError

SECRET_MAX_AGE_SECONDS: Final = 300
# Fail fast: a stuck Secrets Manager call must not eat the time left for delivery.
_BOTO_CONFIG: Final = Config(
    connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2}
)
_provider: parameters.SecretsProvider | None = None
_provider_for: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectorSecret:
    """The secret's JSON keys (`tiktok_access_token`, `mparticle_authorization`, `firehose_token`).

    Values never appear in repr, logs or errors."""

    tiktok_access_token: str | None = field(default=None, repr=False)
    mparticle_authorization: str | None = field(default=None, repr=False)
    firehose_token: str | None = field(default=None, repr=False)


def get_connector_secret(secret_id: str, *, force_fetch: bool = False) -> ConnectorSecret:
    """The secret, from the cache unless `force_fetch` (e.g. after TikTok rejected the token)."""
    global _provider, _provider_for  # noqa: PLW0603 - one provider (and its cache) per container
    if _provider is None or _provider_for != aws_client_key():
        _provider_for = aws_client_key()
        _provider = parameters.SecretsProvider(boto_config=_BOTO_CONFIG)
    try:
        document: Any = _provider.get(
            secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force_fetch
        )
    except parameters.exceptions.TransformParameterError:
        raise ConfigurationError("the secret SECRET_ID names is not a JSON object") from None
    except parameters.exceptions.GetParameterError:
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
    _provider = None
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

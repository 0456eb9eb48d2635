"""Domain exceptions; `handler.py` maps each to one HTTP status in one place."""


class ConnectorError(Exception):
    """Base class: the message is safe to show to the caller (it never holds personal data)."""


class ConfigurationError(ConnectorError):
    """The deployment's configuration is invalid; answered 500 `misconfigured`."""


class BadRequestError(ConnectorError):
    """The request body is malformed or is not an mParticle batch; answered 400."""


class UnauthorizedError(ConnectorError):
    """The Authorization header is missing or wrong; answered 401."""


class ForbiddenError(ConnectorError):
    """The caller may not reach what it asked for (a pixel the connector's token does not serve); 403."""


class PayloadTooLargeError(ConnectorError):
    """The body exceeds the accepted size; answered 413 before parsing."""


class UnavailableError(ConnectorError):
    """A dependency we cannot work without is down; answered 503 so mParticle retries."""


class SecretUnavailableError(UnavailableError):
    """Secrets Manager could not be read."""


class DeadLetterUnavailableError(UnavailableError):
    """The dead-letter queue could not be written."""

"""What an AWS client was built for, so that cached clients follow a changed endpoint or account."""

import os

_AWS_CLIENT_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
)


def aws_client_key() -> tuple[str | None, ...]:
    """What an AWS client was built for: a client is rebuilt when its endpoint or account changes."""
    return tuple(os.environ.get(name) for name in _AWS_CLIENT_VARIABLES)

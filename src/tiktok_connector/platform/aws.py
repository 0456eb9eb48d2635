"""AWS clients: what a client was built for (cached clients follow a changed endpoint or account), and
calls that must end by a deadline."""

import threading
from collections.abc import Callable
from typing import Final, TypeVar

from tiktok_connector.platform.environment import variables_key

_AWS_CLIENT_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
)

T = TypeVar("T")


class CallTimedOutError(Exception):
    """The call did not end within its time; it may still complete (and take effect) later."""


aws_client_key: Final = variables_key(_AWS_CLIENT_VARIABLES)
"""What an AWS client was built for: a client is rebuilt when its endpoint or account changes."""


def call_within(call: Callable[[], T], seconds: float) -> T:
    """`call()`'s result, or CallTimedOutError once `seconds` have passed; its exception is raised as is.

    botocore's timeouts bound each wait for bytes and each attempt, not one call as a whole; the
    Lambda deadline is a whole. The call runs in a daemon thread that is left to finish on its own
    when the time is up (its client's own timeouts end it).
    """
    if seconds <= 0:
        raise CallTimedOutError
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    worker = threading.Thread(target=run, name="aws-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise CallTimedOutError
    if failure:
        raise failure[0]
    return outcome[0]

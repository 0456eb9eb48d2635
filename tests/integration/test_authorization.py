"""Fixed examples of Authorization headers that must be refused 401 on both routes.

A credential check that compares only a prefix, or strips the scheme and then compares what is left
against the start of the stored value, lets these through: an empty header, the scheme alone, and the
credential cut short. The randomised property test in `test_hostile_input.py` finds such a bug only
when it happens to draw one of them; these examples always do.
"""

import pytest

from devstack import demo
from devstack.lambda_runtime import http_api_event, load_event
from tests.conftest import Stack

WEBHOOK = demo.WEBHOOK_AUTHORIZATION
FIREHOSE = demo.FIREHOSE_TOKEN

REFUSED = {
    "/events": {
        "empty": "",
        "blank": " ",
        "bare-basic": "Basic ",
        "basic-without-space": "Basic",
        "bare-token": "Token ",
        "truncated-by-one": WEBHOOK[:-1],
        "truncated-to-half": WEBHOOK[: len(WEBHOOK) // 2],
        "scheme-and-one-character": WEBHOOK[: len("Basic ") + 1],
    },
    "/firehose": {
        "empty": "",
        "blank": " ",
        "bare-token": "Token ",
        "token-without-space": "Token",
        "token-and-spaces": "Token   ",
        "truncated-by-one": "Token " + FIREHOSE[:-1],
        "truncated-to-half": "Token " + FIREHOSE[: len(FIREHOSE) // 2],
        "one-character": "Token " + FIREHOSE[:1],
        "bare-credential-truncated": FIREHOSE[:-1],
    },
}
SAMPLES = {"/events": "webhook-purchase", "/firehose": "firehose-purchase"}


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        pytest.param(path, value, id=f"{path.strip('/')}-{name}")
        for path, examples in REFUSED.items()
        for name, value in examples.items()
    ],
)
def test_an_empty_bare_or_truncated_authorization_is_refused_401(
    stack: Stack, path: str, authorization: str
) -> None:
    body = load_event(SAMPLES[path])["body"]

    status, answer = stack.invoke(http_api_event(body, path=path, headers={"authorization": authorization}))

    assert (status, answer["error"]) == (401, "unauthorized")
    assert stack.sandbox.requests() == []
    assert stack.dead_letters() == []


@pytest.mark.parametrize(
    ("path", "authorization"), [("/events", WEBHOOK), ("/firehose", "Token " + FIREHOSE)]
)
def test_the_whole_credential_gets_through(stack: Stack, path: str, authorization: str) -> None:
    # The same samples with the full header: the refusals above are about the header alone.
    body = load_event(SAMPLES[path])["body"]

    status, answer = stack.invoke(http_api_event(body, path=path, headers={"authorization": authorization}))

    assert status == 200, answer
    assert answer["forwarded"] >= 1

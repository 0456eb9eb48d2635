"""Hostile input: property-based tests of the real handler with hypothesis.

Malformed, truncated, mutated, deeply nested, huge-number and wrong-typed batches and headers go through
`lambda_handler` (the sandbox answers what reaches TikTok). Whatever arrives, the answer is a 2xx summary
whose counts add up or a JSON 4xx saying what is wrong: never an unhandled exception and never a 5xx
(the configuration and AWS are healthy here, so neither `misconfigured` nor the 503 for an
unreachable dependency can apply).
Bodies above the documented 5 MiB get 413 before parsing. The number of inputs is printed at the end.
"""

import base64
import copy
import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_mock import MockerFixture

from devstack import demo
from devstack.lambda_runtime import EVENTS_DIR, http_api_event
from tests import privacy_guard
from tests.conftest import Stack
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy
from tiktok_connector.platform.http_edge import MAX_BODY_BYTES
from tiktok_connector.routes import webhook as webhook_route

INPUTS: Counter[str] = Counter()
AUTHORIZATION: Final = demo.WEBHOOK_AUTHORIZATION
# Inputs that reach TikTok and fail are retried: keep that quick.
FAST_POLICY: Final = RetryPolicy(base_delay_s=0.001, max_delay_s=0.002, reserve_ms=300, min_attempt_ms=100)


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the checkout
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


def _samples() -> list[object]:
    """The parsed bodies of the Webhook samples in events/ (the malformed one excepted)."""
    documents = []
    for path in sorted(EVENTS_DIR.glob("webhook-*.json")):
        try:
            documents.append(json.loads(json.loads(path.read_text())["body"]))
        except ValueError:
            continue
    return documents


SAMPLES: Final = _samples()
SAMPLE_TEXTS: Final = [json.dumps(sample) for sample in SAMPLES]


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_POLICY", FAST_POLICY)


LOGGING_ERRORS: list[str] = []


class _StrictUtf8:
    """Lambda's stdout is strict UTF-8 (pytest's capture would quietly replace what it cannot encode)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        text.encode("utf-8")
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()


@pytest.fixture(autouse=True)
def logging_errors_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log line that cannot be written is lost silently (logging prints to stderr): record it."""
    from tiktok_connector.platform.observability import logger

    def record(handler: logging.Handler, record: logging.LogRecord) -> None:
        LOGGING_ERRORS.append(f"{record.getMessage()!r} could not be written")

    LOGGING_ERRORS.clear()
    monkeypatch.setattr(logging.Handler, "handleError", record)
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", _StrictUtf8(handler.stream))


@pytest.fixture(scope="module", autouse=True)
def report_input_count() -> Iterator[None]:
    yield
    print(f"HOSTILE-INPUTS total={INPUTS.total()} {json.dumps(dict(sorted(INPUTS.items())))}")


# --------------------------------------------------------------------------------------------------
# The property


def check(stack: Stack, event: dict[str, Any], kind: str) -> tuple[int, dict[str, Any]]:
    """Invoke the real handler and check the answer's shape; returns it for stronger checks."""
    INPUTS[kind] += 1
    status, answer = stack.invoke(event)
    assert LOGGING_ERRORS == [], f"{kind}: {LOGGING_ERRORS}"
    assert isinstance(answer, dict)
    if 200 <= status < 300:
        counts = [
            answer["received"],
            answer["forwarded"],
            answer["dead_lettered"],
            *answer["skipped"].values(),
        ]
        assert all(isinstance(count, int) and count >= 0 for count in counts), answer
        assert answer["received"] == (
            answer["forwarded"] + sum(answer["skipped"].values()) + answer["dead_lettered"]
        ), answer
        assert "unaccounted" not in answer
    elif 400 <= status < 500:
        assert status in (400, 401, 413), answer
        assert isinstance(answer.get("error"), str), answer
        assert isinstance(answer.get("message"), str), answer
    else:
        pytest.fail(f"{kind}: answered {status} {answer}")
    assert privacy_guard.find_leaks(json.dumps(answer)) == []
    return status, answer


def request(body: str, headers: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return http_api_event(body, headers={"authorization": AUTHORIZATION, **(headers or {})}, **kwargs)


def is_json(body: str | bytes) -> bool:
    """Whether the handler's parser (json on the UTF-8 bytes) reads a JSON document from `body`."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Strategies

# JSON has no NaN or infinity and Python's json would not write a number past the float range: these
# literals go into the body text in place of a placeholder string.
RAW_LITERALS: Final = [
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1E+308",
    "123456789012345678901234567890.123456789",
    "9" * 4000,
    "-" + "9" * 4300,
    "9" * 4301,
]
_RAW_PREFIX: Final = "\x00raw\x00"

lone_surrogates = st.sampled_from(["\ud800", "\udfff", "a\udc00b"])
texts = st.one_of(
    st.text(max_size=20),
    lone_surrogates,
    st.sampled_from(["", " ", "0", "-1", "1e3", "true", "null", "https://", "E.C.P", "\u0000", "\u202e"]),
)
huge_numbers = st.one_of(
    st.integers(),
    st.sampled_from([2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 10**300, 10**1000]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 2.0**53]),
    st.sampled_from(RAW_LITERALS).map(lambda literal: _RAW_PREFIX + literal),
)
scalars = st.one_of(st.none(), st.booleans(), huge_numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)


def dump(document: object) -> str:
    """JSON text with the raw literals put in place of their placeholders."""
    text = json.dumps(document)
    for literal in RAW_LITERALS:
        text = text.replace(json.dumps(_RAW_PREFIX + literal), literal)
    return text


Path = tuple[str | int, ...]


def paths(document: object, prefix: Path = ()) -> list[Path]:
    """Every node below the root (bounded: the 2,000-event samples would not help)."""
    found: list[Path] = []
    if isinstance(document, dict):
        for key, value in document.items():
            found.append((*prefix, key))
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document[:5]):
            found.append((*prefix, index))
            found.extend(paths(value, (*prefix, index)))
    return found


def parent_of(document: object, path: Path) -> Any:
    node: Any = document
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """A sample with a few nodes replaced, deleted, wrapped, duplicated or given extra keys."""
    document = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        candidates = paths(document)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent, key = parent_of(document, path), path[-1]
        operation = draw(st.sampled_from(["replace", "delete", "wrap", "duplicate", "add_key", "retext"]))
        if operation == "retext" and isinstance(parent[key], str):
            # A client string gone wrong: a split emoji, a NUL, a bidi control, or very long
            parent[key] = draw(
                st.sampled_from(
                    [
                        parent[key] + "\ud83d",
                        parent[key][: len(parent[key]) // 2],
                        parent[key] + "\u0000",
                        "\u202e" + parent[key],
                        parent[key] * 200,
                    ]
                )
            )
        elif operation == "replace":
            parent[key] = draw(json_values)
        elif operation == "delete":
            del parent[key]
        elif operation == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        elif operation == "duplicate" and isinstance(parent[key], list):
            parent[key] = parent[key] * draw(st.integers(2, 30))
        elif isinstance(parent[key], dict):
            parent[key][draw(texts)] = draw(json_values)
    return dump(document)


FIELD_PATHS: Final = sorted({path for sample in SAMPLES for path in paths(sample)}, key=repr)


@st.composite
def wrong_typed_documents(draw: st.DrawFn) -> str:
    """One known field of a sample given a value of another JSON type."""
    document = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    path = draw(st.sampled_from([path for path in paths(document) if path in set(FIELD_PATHS)]))
    parent, key = parent_of(document, path), path[-1]
    current = parent[key]
    wrong = draw(
        st.sampled_from(
            [
                None,
                True,
                0,
                -1,
                2**64,
                1.5,
                "",
                "text",
                str(current)[:50],
                [],
                [current],
                {},
                {"value": current},
            ]
        ).filter(lambda value: type(value) is not type(current))
    )
    parent[key] = wrong
    return dump(document)


@st.composite
def nested_documents(draw: st.DrawFn) -> str:
    """Arrays and objects nested up to far past any parser's limit, at a random place in a sample."""
    depth = draw(st.one_of(st.integers(1, 3000), st.sampled_from([10_000, 100_000])))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"b":', "}]")]))
    nested = opener * depth + draw(st.sampled_from(["1", "null", '"x"', "[]"])) + closer * depth
    document = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    path = draw(st.sampled_from(paths(document)))
    parent_of(document, path)[path[-1]] = _RAW_PREFIX + "NESTED"
    return json.dumps(document).replace(json.dumps(_RAW_PREFIX + "NESTED"), nested)


# --------------------------------------------------------------------------------------------------
# Bodies


@_settings(300)
@given(body=st.one_of(st.text(), st.text().map(lambda text: text + "\ud800"), st.binary().map(repr)))
def test_malformed_bodies_get_400(stack: Stack, body: str) -> None:
    status, answer = check(stack, request(body), "malformed")
    if not is_json(body):
        assert (status, answer["error"]) == (400, "bad_request")


@_settings(150)
@given(raw=st.binary(max_size=200))
def test_binary_bodies_in_base64_get_an_answer(stack: Stack, raw: bytes) -> None:
    event = request("")
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode("ascii"), True
    status, _ = check(stack, event, "binary_base64")
    if not is_json(raw):
        assert status == 400


@_settings(300)
@given(data=st.data())
def test_truncated_samples_get_400_unless_still_json(stack: Stack, data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(SAMPLE_TEXTS))
    cut = data.draw(st.integers(0, len(text) - 1))
    status, _ = check(stack, request(text[:cut]), "truncated")
    if not is_json(text[:cut]):
        assert status == 400


@_settings(600)
@given(body=mutated_documents())
def test_mutated_samples_are_answered_with_a_summary_or_a_4xx(stack: Stack, body: str) -> None:
    check(stack, request(body), "mutated")


@_settings(300)
@given(body=wrong_typed_documents())
def test_wrong_typed_fields_are_answered_with_a_summary_or_a_4xx(stack: Stack, body: str) -> None:
    check(stack, request(body), "wrong_typed")


@_settings(150)
@given(body=nested_documents())
def test_deeply_nested_documents_are_answered_with_a_summary_or_a_4xx(stack: Stack, body: str) -> None:
    check(stack, request(body), "deeply_nested")


@_settings(200)
@given(data=st.data())
def test_huge_and_odd_numbers_anywhere_are_answered(stack: Stack, data: st.DataObject) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(SAMPLES)))
    numeric = [
        path for path in paths(document) if isinstance(parent_of(document, path)[path[-1]], int | float)
    ]
    for path in data.draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=5)):
        parent_of(document, path)[path[-1]] = data.draw(huge_numbers)
    check(stack, request(dump(document)), "huge_numbers")


# --------------------------------------------------------------------------------------------------
# Headers and the API Gateway envelope

authorization_values = st.one_of(
    st.just(AUTHORIZATION),
    st.text(max_size=60),
    lone_surrogates,
    st.sampled_from(
        [
            "",
            AUTHORIZATION.lower(),
            AUTHORIZATION.upper(),
            AUTHORIZATION + " ",
            " " + AUTHORIZATION,
            AUTHORIZATION.removeprefix("Basic "),
            "Bearer " + AUTHORIZATION.removeprefix("Basic "),
            f"{AUTHORIZATION}, {AUTHORIZATION}",
            AUTHORIZATION[:-1],
            AUTHORIZATION + "\u0000",
            "Basic " + "A" * 10_000,
        ]
    ),
)


@_settings(300)
@given(
    authorization=st.one_of(st.none(), authorization_values),
    name=st.sampled_from(["authorization", "Authorization", "AUTHORIZATION", "x-authorization"]),
    extra=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=5),
    body=st.sampled_from([*SAMPLE_TEXTS[:3], "", "{", "[]"]),
    base64_flag=st.booleans(),
)
def test_only_the_exact_authorization_gets_past_401(
    stack: Stack, authorization: str | None, name: str, extra: dict[str, str], body: str, base64_flag: bool
) -> None:
    event = http_api_event(body, base64_encode=base64_flag)
    headers = {key: value for key, value in extra.items() if key.lower() != "authorization"}
    if authorization is not None:
        headers[name] = authorization
    event["headers"] = headers
    status, _ = check(stack, event, "headers")
    authorized = authorization == AUTHORIZATION and name.lower() == "authorization"
    assert (status == 401) is not authorized


@_settings(150)
@given(
    body=st.one_of(st.none(), st.just(""), st.text(max_size=50), st.sampled_from(SAMPLE_TEXTS[:2])),
    flag=st.one_of(st.booleans(), st.none(), st.sampled_from(["true", "false", 1, 0])),
    encode=st.booleans(),
)
def test_odd_envelopes_are_answered(stack: Stack, body: str | None, flag: object, encode: bool) -> None:
    event = request(body or "x")
    if body is not None and encode:
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode("ascii")
    event["body"] = body
    event["isBase64Encoded"] = flag
    check(stack, event, "envelope")


# --------------------------------------------------------------------------------------------------
# The 5 MiB limit


def test_a_body_over_5_mib_gets_413_before_parsing(stack: Stack, mocker: MockerFixture) -> None:
    parse = mocker.spy(webhook_route, "parse_webhook_body")
    # Not JSON at all: had it been parsed, the answer would be 400
    status, answer = check(stack, request("x" * (MAX_BODY_BYTES + 1)), "size_limit")
    assert (status, answer["error"]) == (413, "payload_too_large")
    # Fewer characters than the limit, more bytes than the limit
    status, _ = check(stack, request("é" * (MAX_BODY_BYTES // 2 + 1)), "size_limit")
    assert status == 413
    status, _ = check(stack, request("x" * (MAX_BODY_BYTES + 1), base64_encode=True), "size_limit")
    assert status == 413
    assert parse.call_count == 0
    assert stack.sandbox.requests() == []


def test_a_body_of_exactly_5_mib_is_processed(stack: Stack) -> None:
    sample = SAMPLE_TEXTS[0]
    body = sample + " " * (MAX_BODY_BYTES - len(sample.encode("utf-8")))
    assert len(body.encode("utf-8")) == MAX_BODY_BYTES
    status, answer = check(stack, request(body), "size_limit")
    assert status == 200
    assert answer["received"] >= 1


def test_a_huge_body_without_authorization_gets_401_first(stack: Stack) -> None:
    event = http_api_event("x" * (MAX_BODY_BYTES + 1))
    status, answer = check(stack, event, "size_limit")
    assert (status, answer["error"]) == (401, "unauthorized")


# --------------------------------------------------------------------------------------------------
# Regressions found by the properties above


@pytest.mark.parametrize(
    "authorization",
    ["\ud800", AUTHORIZATION + "\udfff"],
    ids=["lone-surrogate", "valid-then-surrogate"],
)
def test_an_authorization_header_that_is_not_valid_unicode_gets_401(stack: Stack, authorization: str) -> None:
    status, answer = check(
        stack, http_api_event("{}", headers={"authorization": authorization}), "regression"
    )
    assert (status, answer["error"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    "identities",
    [
        [{"identity_type": "email", "identity": "jane\ud800@example.com"}],
        [{"identity_type": "customer_id", "identity": "\udfff"}],
        [{"identity_type": "mobile_number", "identity": "+1 415 555 0123\ud800"}],
    ],
    ids=["email", "customer_id", "mobile_number"],
)
def test_an_identity_with_a_lone_surrogate_is_answered(stack: Stack, identities: list[object]) -> None:
    sample = copy.deepcopy(SAMPLES[0])
    assert isinstance(sample, dict)
    sample["user_identities"] = identities
    check(stack, request(json.dumps(sample)), "regression")


def test_a_batch_id_with_a_lone_surrogate_is_answered_and_logged(stack: Stack) -> None:
    sample = copy.deepcopy(SAMPLES[0])
    assert isinstance(sample, dict)
    sample["batch_id"] = "batch-\ud83d"
    check(stack, request(json.dumps(sample)), "regression")


def test_text_with_a_lone_surrogate_in_a_forwarded_event_is_answered(stack: Stack) -> None:
    sample = copy.deepcopy(SAMPLES[0])
    assert isinstance(sample, dict)
    sample["device_info"] = {"http_header_user_agent": "Mozilla/5.0 \ud800"}
    sample["ip"] = "203.0.113.24"
    check(stack, request(json.dumps(sample)), "regression")

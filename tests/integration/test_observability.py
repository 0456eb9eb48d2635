"""Observability with Powertools: structured logs, EMF metrics, tracing, no personal data.

Powertools writes its JSON log lines and EMF metric documents to stdout (its testing docs: capture them
with `capsys`). Output read here never reaches pytest's report, so these tests scan it for personal
data themselves; `tests/privacy_guard.py` scans every other test's captured output.
"""

import ast
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pytest_mock import MockerFixture

from devstack import demo
from devstack.lambda_runtime import EVENTS_DIR, LocalLambdaContext, load_event
from tests import privacy_guard
from tests.conftest import Stack
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy

SRC = Path(__file__).resolve().parents[2] / "src" / "tiktok_connector"
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
NAMESPACE = "MParticleTikTokConnector"
FAST_POLICY = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02, reserve_ms=300, min_attempt_ms=100)


def stdout_documents(text: str) -> list[dict[str, Any]]:
    """Every stdout line is one JSON document (a log record or an EMF blob): structured, nothing else."""
    documents = []
    for line in text.splitlines():
        if line.strip():
            document = json.loads(line)
            assert isinstance(document, dict), line
            documents.append(document)
    return documents


def emf_metrics(documents: list[dict[str, Any]]) -> dict[str, list[float]]:
    """The metric values of the EMF documents, by name, after checking their CloudWatch envelope."""
    values: dict[str, list[float]] = {}
    for document in documents:
        if "_aws" not in document:
            continue
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        assert directive["Dimensions"] == [["service"]]
        assert document["service"] == "tiktok-connector"
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values


def log_records(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [document for document in documents if "level" in document and "message" in document]


def assert_no_personal_data(text: str) -> None:
    assert privacy_guard.find_leaks(text) == []


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_POLICY", FAST_POLICY)


class _CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time: during a test, `capsys`'s buffer."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def capsys(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """`capsys` that also holds the log lines: the logger's handler keeps the stdout of its creation."""
    from tiktok_connector.platform.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.stream
    handler.stream = _CurrentStdout()
    yield capsys
    handler.stream = previous


# --------------------------------------------------------------------------------------------------
# Metrics


def test_a_known_batch_emits_its_counts_as_emf_metrics(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the two-batch sample: 2 forwardable events, 1 without a valid page URL, 1 refund, 1 non-event
    capsys.readouterr()
    status, answer = stack.invoke(load_event("webhook-array-of-batches"))
    output = capsys.readouterr().out
    assert status == 200
    # Then one EMF document carries the same counts as the answer
    documents = stdout_documents(output)
    assert sum("_aws" in document for document in documents) == 1
    metrics = emf_metrics(documents)
    expected = {
        "EventsReceived": [5.0],
        "EventsForwarded": [2.0],
        "EventsSkipped": [3.0],
        "EventsSkipped_invalid_page_url": [1.0],
        "EventsSkipped_unsupported_event": [1.0],
        "EventsSkipped_invalid_event": [1.0],
        "EventsDeadLettered": [0.0],
        "TikTokRequests": [1.0],
        "TikTokRetries": [0.0],
        "Warning_missing_ip": [1.0],
    }
    assert {name: metrics.get(name) for name in expected} == expected
    assert len(metrics["TikTokLatency"]) == 1
    assert metrics["TikTokLatency"][0] > 0
    assert answer["forwarded"] == 2
    assert_no_personal_data(output)


def test_retries_latency_and_dead_letters_are_counted(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given TikTok answering 503, then a rate limit, then rejecting the request for good
    stack.sandbox.fail_next(
        {"kind": "http_status", "status": 503},
        {"kind": "tiktok_code", "code": 40100},
        {"kind": "tiktok_code", "code": 40002},
    )
    capsys.readouterr()
    status, answer = stack.invoke(load_event("webhook-purchase"))
    output = capsys.readouterr().out
    assert (status, answer["dead_lettered"]) == (200, 1)
    metrics = emf_metrics(stdout_documents(output))
    assert metrics["TikTokRequests"] == [3.0]
    assert metrics["TikTokRetries"] == [2.0]
    assert metrics["EventsDeadLettered"] == [1.0]
    assert metrics["EventsForwarded"] == [0.0]
    assert len(metrics["TikTokLatency"]) == 3
    assert_no_personal_data(output)


def test_an_answer_of_503_counts_the_events_without_an_outcome(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiktok_connector.delivery import dead_letters

    class BrokenQueue:
        def send_message(self, **_: object) -> None:
            raise ConnectionError("queue down")

    monkeypatch.setattr(dead_letters, "_sqs", BrokenQueue())
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
    capsys.readouterr()
    status, answer = stack.invoke(load_event("webhook-purchase"))
    output = capsys.readouterr().out
    assert (status, answer["error"], answer["unaccounted"]) == (503, "unavailable", 1)
    metrics = emf_metrics(stdout_documents(output))
    assert metrics["EventsUnaccounted"] == [1.0]
    assert metrics["EventsDeadLettered"] == [0.0]
    records = log_records(stdout_documents(output))
    assert any(record["message"] == "events neither delivered nor dead-lettered" for record in records)


def test_the_redrive_counts_the_events_it_redrives(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    from tiktok_connector.entrypoints import redrive

    # Given one event dead-lettered as retryable (TikTok down for every attempt)
    stack.sandbox.fail_next(*[{"kind": "http_status", "status": 503}] * FAST_POLICY.max_attempts)
    status, answer = stack.invoke(load_event("webhook-purchase"))
    assert (status, answer["dead_lettered"]) == (200, 1)
    # When the redrive runs against a healthy TikTok
    capsys.readouterr()
    redrive.lambda_handler({}, LocalLambdaContext(timeout_s=60))
    output = capsys.readouterr().out
    # Then it counts the redriven event
    metrics = emf_metrics(stdout_documents(output))
    assert metrics["EventsRedriven"] == [1.0]
    assert stack.dead_letters() == []
    assert_no_personal_data(output)


# --------------------------------------------------------------------------------------------------
# Logs


def test_log_lines_carry_the_request_id_and_the_batch_ids(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("webhook-array-of-batches")
    # TikTok refuses the request of two events, then each of them alone (the halves it is split into)
    stack.sandbox.fail_next(
        *[{"kind": "tiktok_code", "code": 40002, "message": "data.0.user: TIKTOK-MESSAGE"}] * 3
    )
    capsys.readouterr()
    stack.invoke(event)
    output = capsys.readouterr().out
    records = log_records(stdout_documents(output))
    request_id = event["requestContext"]["requestId"]
    batch_ids = ["3619462417291384006", "3619462417291384007"]
    assert records, "the invocation logs"
    # Every line of the invocation carries the API Gateway request id as its correlation id
    assert {record["correlation_id"] for record in records} == {request_id}
    by_message = {record["message"]: record for record in records}
    processed = by_message["batch processed"]
    assert processed["batch_ids"] == batch_ids
    assert processed["summary"]["received"] == 5
    # The dead-letter line says why, for which batches, without TikTok's message or any event data
    dead = by_message["request dead-lettered"]
    assert dead["batch_ids"] == batch_ids
    assert (dead["reason"], dead["retryable"], dead["tiktok_code"], dead["events"]) == (
        "rejected",
        False,
        40002,
        2,
    )
    assert "TIKTOK-MESSAGE" not in output
    assert_no_personal_data(output)


def test_a_refused_request_is_logged_with_its_request_id_and_without_the_header(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("webhook-wrong-authorization")
    capsys.readouterr()
    status, _ = stack.invoke(event)
    output = capsys.readouterr().out
    assert status == 401
    records = log_records(stdout_documents(output))
    assert records
    assert {record["correlation_id"] for record in records} == {event["requestContext"]["requestId"]}
    assert_no_personal_data(output)


def test_no_sample_event_puts_personal_data_or_a_token_in_the_output(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every Webhook sample, delivered and then dead-lettered, through every log and metric line
    capsys.readouterr()
    answers = []
    for path in sorted(EVENTS_DIR.glob("webhook-*.json")):
        answers.append(stack.invoke(load_event(path.name)))
        stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
        answers.append(stack.invoke(load_event(path.name)))
    captured = capsys.readouterr()
    assert {status for status, _ in answers} == {200, 400, 401}
    assert_no_personal_data(captured.out + captured.err)
    assert_no_personal_data(json.dumps([answer for _, answer in answers]))
    stdout_documents(captured.out)


# --------------------------------------------------------------------------------------------------
# Tracing


def _tracer_decorators() -> Iterator[tuple[str, ast.Call]]:
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "tracer"
                    ):
                        assert isinstance(decorator, ast.Call), f"{path.name}:{node.name} uses bare @tracer"
                        yield f"{path.relative_to(SRC).as_posix()}:{node.name}", decorator


def test_every_traced_function_leaves_its_response_out_of_the_trace() -> None:
    decorated = dict(_tracer_decorators())
    assert "entrypoints/api.py:lambda_handler" in decorated
    assert "routes/pipeline.py:process_batches" in decorated
    for where, call in decorated.items():
        keywords = {keyword.arg: keyword.value for keyword in call.keywords}
        value = keywords.get("capture_response")
        assert isinstance(value, ast.Constant) and value.value is False, where


def test_the_deployed_function_traces_without_responses_or_errors() -> None:
    template = TEMPLATE.read_text()
    assert "Tracing: Active" in template
    assert 'POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false"' in template
    assert 'POWERTOOLS_TRACER_CAPTURE_ERROR: "false"' in template


def test_an_invocation_never_asks_the_tracer_to_capture_a_response(
    stack: Stack, mocker: MockerFixture
) -> None:
    from tiktok_connector.platform.observability import tracer

    spy = mocker.spy(tracer, "_add_response_as_metadata")
    status, _ = stack.invoke(load_event("webhook-purchase"))
    assert status == 200
    assert spy.call_count >= 2  # the handler and the pipeline
    assert {call.kwargs["capture_response"] for call in spy.call_args_list} == {False}


# --------------------------------------------------------------------------------------------------
# The privacy guard itself


def _report(
    sections: list[tuple[str, str]], when: Literal["setup", "call", "teardown"] = "call"
) -> pytest.TestReport:
    return pytest.TestReport(
        nodeid="tests/example.py::test_example",
        location=("tests/example.py", 1, "test_example"),
        keywords={},
        outcome="passed",
        longrepr=None,
        when=when,
        sections=sections,
    )


def _run_guard(report: pytest.TestReport, item: pytest.Item) -> pytest.TestReport:
    """Drive the guard's hook wrapper the way pluggy does: it receives the report and returns it."""
    hook = privacy_guard.pytest_runtest_makereport(item, None)  # type: ignore[arg-type]
    next(hook)
    with pytest.raises(StopIteration) as stop:
        hook.send(report)
    returned = stop.value.value
    assert isinstance(returned, pytest.TestReport)
    return returned


def test_the_privacy_guard_fails_a_test_whose_output_holds_a_raw_identity(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privacy_guard._Tally, "leaks", 0)  # these leaks are staged: keep the tally true
    leaking = _run_guard(
        _report([("Captured stdout call", '{"user": "JANE.DOE@example.com"}')]), request.node
    )
    assert leaking.outcome == "failed"
    assert "raw identity" in str(leaking.longrepr)
    assert "jane.doe" not in str(leaking.longrepr).lower(), "the guard names the kind, never the value"

    token = _run_guard(_report([("Captured log call", f"token={demo.ACCESS_TOKEN}")]), request.node)
    assert token.outcome == "failed"

    hashed = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
    clean = _run_guard(_report([("Captured stdout call", f'{{"email": "{hashed}"}}')]), request.node)
    assert clean.outcome == "passed"
    # Only this phase's sections count: setup output is judged by the setup report
    earlier = _run_guard(_report([("Captured stdout setup", "jane.doe@example.com")]), request.node)
    assert earlier.outcome == "passed"


def test_the_privacy_guard_knows_every_sample_identity() -> None:
    values = {needle.value for needle in privacy_guard.NEEDLES}
    for raw in (
        "jane.doe@example.com",
        "cust-10042",
        "+14155550123",
        "(415) 555-0123",
        "sam.smith@example.org",
    ):
        assert raw in values
    assert demo.ACCESS_TOKEN in values
    assert demo.FIREHOSE_TOKEN in values
    assert demo.WEBHOOK_AUTHORIZATION.lower() in values

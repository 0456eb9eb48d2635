"""The connector's EMF provider records exactly what Powertools' own records, on every path; its log
lines read back as Powertools' own serializer writes them."""

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from tiktok_connector.platform import observability
from tiktok_connector.platform.observability import _EMFProvider

CALLS: list[dict[str, Any]] = [
    {"name": "EventsReceived", "unit": MetricUnit.Count, "value": 3},
    {"name": "TikTokLatency", "unit": MetricUnit.Milliseconds, "value": 12.5},
    {"name": "TikTokLatency", "unit": MetricUnit.Milliseconds, "value": 7},
    {"name": "EventsSkipped_no_consent", "unit": "Count", "value": 1},  # a unit given as text
    {"name": " Padded ", "unit": MetricUnit.Count, "value": 2},  # stripped by Powertools
    {"name": "Fine", "unit": MetricUnit.Count, "value": 1, "resolution": MetricResolution.High},
    {"name": "Flag", "unit": MetricUnit.Count, "value": True},
    {"name": "EventsReceived", "unit": MetricUnit.Count, "value": 4},
]


def recorded(provider: AmazonCloudWatchEMFProvider, calls: list[dict[str, Any]]) -> dict[str, Any]:
    for call in calls:
        provider.add_metric(**call)
    document: dict[str, Any] = dict(provider.serialize_metric_set())
    document["_aws"] = {**document["_aws"], "Timestamp": 0}
    return document


def test_the_same_metrics_as_powertools_records() -> None:
    ours = recorded(_EMFProvider(namespace="N", service="s"), CALLS)
    theirs = recorded(AmazonCloudWatchEMFProvider(namespace="N", service="s"), CALLS)

    assert ours == theirs
    assert ours["TikTokLatency"] == [12.5, 7.0]


@pytest.mark.parametrize(
    "call",
    [
        {"name": "", "unit": MetricUnit.Count, "value": 1},
        {"name": "Bad", "unit": "Parsecs", "value": 1},
        {"name": "Bad", "unit": MetricUnit.Count, "value": "1"},
    ],
)
def test_the_same_refusals_as_powertools(call: dict[str, Any]) -> None:
    with pytest.raises(Exception) as ours:
        _EMFProvider(namespace="N").add_metric(**call)
    with pytest.raises(Exception) as theirs:
        AmazonCloudWatchEMFProvider(namespace="N").add_metric(**call)

    assert type(ours.value) is type(theirs.value)


def test_the_hundredth_metric_is_published_as_powertools_does(capsys: pytest.CaptureFixture[str]) -> None:
    many = [{"name": f"M{index}", "unit": MetricUnit.Count, "value": index} for index in range(150)]
    ours = recorded(_EMFProvider(namespace="N", service="s"), many)
    ours_printed = capsys.readouterr().out
    theirs = recorded(AmazonCloudWatchEMFProvider(namespace="N", service="s"), many)
    theirs_printed = capsys.readouterr().out

    assert ours == theirs
    assert ours_printed.count("\n") == theirs_printed.count("\n") == 1


def test_a_flush_writes_the_document_powertools_writes(capsys: pytest.CaptureFixture[str]) -> None:
    ours = _EMFProvider(namespace="N", service="s")
    theirs = AmazonCloudWatchEMFProvider(namespace="N", service="s")
    now_ms = int(time.time() * 1000)
    for provider in (ours, theirs):
        for call in CALLS:
            provider.add_metric(**call)
        provider.set_timestamp(now_ms)
    ours.flush_metrics()
    ours_line = capsys.readouterr().out
    theirs.flush_metrics()
    theirs_line = capsys.readouterr().out

    assert json.loads(ours_line) == json.loads(theirs_line)
    assert ours_line.count("\n") == 1
    assert ours.metric_set == theirs.metric_set == {}
    with pytest.warns(UserWarning, match="No application metrics"):  # nothing left: Powertools' warning
        ours.flush_metrics()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "record",
    [
        {"level": "INFO", "message": "batch processed", "summary": {"received": 2, "skipped": {}}},
        {"message": "Zürich ✓", "ids": ["1", "2"], "latency_ms": 12.5, "retry": None, "ok": True},
        {"message": "non-string keys", "counts": {1: "a", 2: "b"}},
        {"message": "unserialisable", "when": Decimal("1.5"), "path": Path("/tmp")},
    ],
)
def test_a_log_line_reads_back_as_powertools_would_write_it(record: dict[str, Any]) -> None:
    line = observability._log_line(record)

    assert "\n" not in line
    assert json.loads(line) == json.loads(json.dumps(record, default=str, ensure_ascii=False))


def test_a_log_line_orjson_refuses_is_written_as_powertools_writes_it() -> None:
    record = {"message": "a split emoji \ud83d", "big": 2**70}

    assert observability._log_line(record) == json.dumps(
        record, default=str, separators=(",", ":"), ensure_ascii=False
    )

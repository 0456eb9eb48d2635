"""The offline preview: every input form it reads, its counts, its printed report and its chart."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from devstack import demo, preview
from devstack.lambda_runtime import EVENTS_DIR, http_api_event, load_event
from tiktok_connector.mapping.match_keys import MATCH_KEYS, count_match_keys

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The identity-based keys of the events/ samples; ttclid, ttp and advanced matching are checked
# against the request bodies instead (they follow the mapping's signals).
SAMPLE_IDENTITY_KEYS = {"email": 10, "phone": 7, "external_id": 7, "ip_and_user_agent": 9}


def sample_body(name: str) -> Any:
    return json.loads(load_event(name)["body"])


def written_events(output: Path) -> list[dict[str, Any]]:
    lines = (output / preview.REQUESTS_FILE).read_text().splitlines()
    return [event for line in lines for event in json.loads(line)["data"]]


def run(paths: list[Path], output: Path, **environ: str) -> preview.PreviewResult:
    result, _ = preview.run_preview(paths, environ=environ, output_dir=output, progress=False)
    return result


def test_every_sample_in_events_is_counted(tmp_path: Path) -> None:
    result = run([EVENTS_DIR], tmp_path)

    # 9 Webhook bodies (the wrong-authorization one too: the preview reads bodies, not headers),
    # 3 Firehose event requests (one of them the empty verification request), 1 registration
    assert result.bodies == {"webhook": 9, "firehose": 3}
    assert result.ignored == {"module_registration_request": 1}
    assert [(Path(where).name, problem[:3]) for where, problem in result.rejected] == [
        ("webhook-bad-request.json", "400")
    ]
    assert (result.received, result.mapped, result.requests) == (22, 10, 8)
    assert result.skipped == {
        "unsupported_event": 9,
        "invalid_event": 1,
        "invalid_page_url": 1,
        "no_identifiers": 1,
    }
    assert result.received == result.mapped + result.skipped.total()
    assert result.warnings["missing_ip"] == 1
    # The counts are those of the request bodies written, all seven keys named
    events = written_events(tmp_path)
    assert len(events) == result.mapped
    assert result.match_keys == count_match_keys(events)
    assert {key: result.match_keys[key] for key in SAMPLE_IDENTITY_KEYS} == SAMPLE_IDENTITY_KEYS
    summary = json.loads((tmp_path / preview.SUMMARY_FILE).read_text())
    assert summary["match_keys"] == result.match_keys
    assert summary["match_key_share"]["email"] == 1.0
    assert summary["match_key_share"]["phone"] == 0.7
    # And the chart is a PNG
    chart = (tmp_path / preview.CHART_FILE).read_bytes()
    assert chart.startswith(PNG_SIGNATURE)
    assert len(chart) > 10_000


def test_json_lines_of_every_form_are_read_one_body_a_line(tmp_path: Path) -> None:
    gateway = http_api_event(load_event("webhook-add-to-cart")["body"], base64_encode=True)
    lines = [
        json.dumps(sample_body("webhook-purchase")),  # a Webhook batch
        "",
        json.dumps(sample_body("firehose-purchase")),  # a Firehose event request
        json.dumps(gateway),  # an API Gateway event, its body base64-encoded
        "{not json",
        json.dumps(sample_body("firehose-registration")),
        json.dumps(sample_body("webhook-array-of-batches")),  # one body of two batches
        json.dumps(["not", "a", "batch"]),
    ]
    source = tmp_path / "batches.jsonl"
    source.write_text("\n".join(lines) + "\n")

    result = run([source], tmp_path / "out")

    assert result.bodies == {"webhook": 3, "firehose": 1}
    assert result.ignored == {"module_registration_request": 1}
    assert [(where, problem[:3]) for where, problem in result.rejected] == [
        (f"{source}:5", "400"),
        (f"{source}:8", "400"),
    ]
    # purchase 1 + firehose purchase 1 + add to cart 1 + array of batches 2 (of 5)
    assert (result.received, result.mapped, result.requests) == (8, 5, 4)
    assert result.match_keys == count_match_keys(written_events(tmp_path / "out"))
    assert (tmp_path / "out" / preview.CHART_FILE).read_bytes().startswith(PNG_SIGNATURE)


def test_a_json_array_of_firehose_messages_is_one_body_each(tmp_path: Path) -> None:
    source = tmp_path / "messages.json"
    source.write_text(json.dumps([sample_body("firehose-purchase"), sample_body("firehose-custom-mapped")]))

    plain = run([source], tmp_path / "plain")
    # The deployment's custom mappings apply to Firehose requests too
    mapped = run([source], tmp_path / "mapped", CUSTOM_MAPPINGS=json.dumps(demo.CUSTOM_MAPPINGS))

    assert (plain.bodies, plain.requests, plain.skipped["unsupported_event"]) == ({"firehose": 2}, 1, 3)
    assert (mapped.bodies, mapped.requests, mapped.mapped) == ({"firehose": 2}, 2, 3)
    assert [where for where, _ in mapped.shown] == [f"{source}[0]", f"{source}[1]"]


def test_the_deployment_settings_come_from_the_function_variables(tmp_path: Path) -> None:
    source = EVENTS_DIR / "webhook-purchase.json"
    default = run([source], tmp_path / "default")
    configured = run(
        [source],
        tmp_path / "configured",
        TIKTOK_PIXEL_ID="C4PIXELFROMENV",
        PHONE_IDENTITY_TYPE="other",
        CONTENT_TYPE="product_group",
        TIKTOK_TEST_EVENT_CODE="TEST123",
    )

    assert default.shown[0][1].body["event_source_id"] == preview.PLACEHOLDER_PIXEL_ID
    body = configured.shown[0][1].body
    assert (body["event_source_id"], body["test_event_code"]) == ("C4PIXELFROMENV", "TEST123")
    [event] = written_events(tmp_path / "configured")
    assert event["properties"]["content_type"] == "product_group"
    assert (default.match_keys["phone"], configured.match_keys["phone"]) == (1, 0)


@pytest.mark.parametrize("sample", ["webhook-purchase", "firehose-purchase"])
def test_the_match_settings_apply_to_both_routes_bodies(tmp_path: Path, sample: str) -> None:
    result = run(
        [EVENTS_DIR / f"{sample}.json"],
        tmp_path,
        PURCHASE_EVENT="Purchase",
        LIMITED_DATA_USE="always",
        GDPR_CONSENT_PURPOSE="marketing",
    )
    assert (result.mapped, dict(result.skipped)) == (0, {"no_consent": 1})  # the samples give no GDPR consent

    result = run(
        [EVENTS_DIR / f"{sample}.json"], tmp_path, PURCHASE_EVENT="Purchase", LIMITED_DATA_USE="always"
    )
    [event] = written_events(tmp_path)
    assert (event["event"], event["limited_data_use"]) == ("Purchase", True)
    assert result.match_keys["advanced_matching"] == result.match_keys["ttp"] == 1


def test_a_firehose_request_keeps_its_own_pixel_and_settings(tmp_path: Path) -> None:
    message = sample_body("firehose-purchase")
    result = run([EVENTS_DIR / "firehose-purchase.json"], tmp_path, TIKTOK_PIXEL_ID="C4OTHER")
    assert result.shown[0][1].body["event_source_id"] == message["account"]["account_settings"]["pixelId"]

    del message["account"]["account_settings"]["pixelId"]
    source = tmp_path / "no-pixel.json"
    source.write_text(json.dumps(message))
    result = run([source], tmp_path, TIKTOK_PIXEL_ID="C4OTHER")
    assert result.shown[0][1].body["event_source_id"] == "C4OTHER"


def test_a_webhook_misconfiguration_refuses_webhook_bodies_as_the_function_would(tmp_path: Path) -> None:
    result = run([EVENTS_DIR], tmp_path, EMAIL_IDENTITY_TYPE="no_such_type")

    assert result.bodies == {"firehose": 3}
    refused = [problem for _, problem in result.rejected if problem.startswith("500 misconfigured")]
    assert len(refused) == 9
    assert "EMAIL_IDENTITY_TYPE" in refused[0]


def test_the_command_prints_the_requests_and_the_coverage_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = preview.main(
        [str(EVENTS_DIR / "webhook-purchase.json"), "--output", str(tmp_path), "--no-progress"]
    )
    out = capsys.readouterr().out

    assert code == 0
    assert '"email": "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"' in out
    assert "jane.doe@example.com" not in out
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:2] == "  "}
    for key in MATCH_KEYS:
        assert key in table, key
    assert table["email"] == ["1", "100.0%"]
    assert table["ip_and_user_agent"] == ["1", "100.0%"]
    assert f"Written: {tmp_path / preview.REQUESTS_FILE}" in out


def test_the_command_shows_only_the_first_requests_and_says_where_the_rest_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = preview.main([str(EVENTS_DIR), "--output", str(tmp_path), "--no-progress", "--show", "2"])
    out = capsys.readouterr().out

    assert code == 0
    assert out.count("── TikTok request ") == 2
    assert f"── 6 more request(s): {tmp_path / preview.REQUESTS_FILE}" in out
    assert "unsupported_event          9    40.9%" in out


@pytest.mark.parametrize(
    ("environ", "argument", "fragment"),
    [
        ({}, "no-such-file.json", "no such file or folder"),
        ({"CUSTOM_MAPPINGS": "not json"}, str(EVENTS_DIR / "webhook-purchase.json"), "CUSTOM_MAPPINGS"),
    ],
)
def test_unreadable_input_or_settings_end_with_a_clear_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    argument: str,
    fragment: str,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    code = preview.main([argument, "--output", str(tmp_path), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    assert fragment in captured.err
    assert captured.out == ""


def test_a_base64_gateway_event_file_is_decoded(tmp_path: Path) -> None:
    body = load_event("webhook-checkout")["body"]
    event = http_api_event(body, base64_encode=True)
    assert event["body"] == base64.b64encode(body.encode()).decode()
    source = tmp_path / "gateway.json"
    source.write_text(json.dumps(event, indent=2))

    result = run([source], tmp_path)
    assert (result.bodies, result.mapped) == ({"webhook": 1}, 1)
    assert written_events(tmp_path)[0]["event"] == "InitiateCheckout"

"""The redrive's pure parts: its configuration, invocation options, letter parsing, decisions and report."""

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from tiktok_connector.config import reset_settings
from tiktok_connector.delivery.tiktok_client import ANSWER_CODES, CONNECTION_ERROR, UNREADABLE_ANSWER, Outcome
from tiktok_connector.model.tiktok import SourceRef
from tiktok_connector.platform.errors import ConfigurationError
from tiktok_connector.redrive.decisions import Action, decide_after_failure, decide_letter
from tiktok_connector.redrive.letters import Letter, parse_letter
from tiktok_connector.redrive.report import RedriveReport
from tiktok_connector.redrive.settings import invocation_options, load_redrive_settings

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/connector-dlq"
PARKING = "https://sqs.us-east-1.amazonaws.com/123456789012/connector-parking"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("SECRET_ID", "connector-secret")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", QUEUE)
    monkeypatch.delenv("TIKTOK_API_URL", raising=False)
    monkeypatch.delenv("CUSTOM_MAPPINGS", raising=False)
    reset_settings()
    yield {"PARKING_QUEUE_URL": PARKING, "REDRIVE_MAX_ATTEMPTS": "3"}
    reset_settings()


def letter(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": 1,
        "reason": "server_error",
        "retryable": True,
        "attempts": 4,
        "redrive_attempts": 0,
        "first_attempt_at": "2026-11-25T10:00:00.000+00:00",
        "last_attempt_at": "2026-11-25T10:00:01.000+00:00",
        "dead_lettered_at": "2026-11-25T10:00:01.000+00:00",
        "error": {"http_status": 503, "tiktok_code": None, "message": "", "request_id": None},
        "source": {
            "origin": "webhook",
            "events": [{"event_id": "e-1", "batch_id": "7", "source_event_id": "9"}],
        },
        "request": {
            "event_source": "web",
            "event_source_id": "PIXEL",
            "data": [{"event": "ViewContent", "event_id": "e-1"}],
        },
    }
    document.update(changes)
    return document


def test_settings_come_from_the_shared_configuration_and_the_redrive_variables(
    environment: dict[str, str],
) -> None:
    settings = load_redrive_settings(environment)

    assert (settings.secret_id, settings.queue_url, settings.parking_queue_url) == (
        "connector-secret",
        QUEUE,
        PARKING,
    )
    assert settings.max_attempts == 3
    assert settings.api_url.startswith("https://business-api.tiktok.com/")


def test_max_attempts_defaults_to_five_and_parking_is_optional(environment: dict[str, str]) -> None:
    settings = load_redrive_settings({})

    assert settings.max_attempts == 5
    assert settings.parking_queue_url is None


@pytest.mark.parametrize("value", ["0", "-2", "five", "2.5"])
def test_an_invalid_max_attempts_is_a_clear_error(environment: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigurationError, match="REDRIVE_MAX_ATTEMPTS"):
        load_redrive_settings({**environment, "REDRIVE_MAX_ATTEMPTS": value})


@pytest.mark.parametrize("value", ["connector-parking", QUEUE])
def test_an_invalid_parking_queue_is_a_clear_error(environment: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigurationError, match="PARKING_QUEUE_URL"):
        load_redrive_settings({**environment, "PARKING_QUEUE_URL": value})


def test_a_missing_dead_letter_queue_is_named(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEAD_LETTER_QUEUE_URL")
    reset_settings()

    with pytest.raises(ConfigurationError, match="DEAD_LETTER_QUEUE_URL"):
        load_redrive_settings(environment)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({}, (False, None)),
        ({"dry_run": True, "max_messages": 20}, (True, 20)),
        ({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, (False, None)),
        (None, (False, None)),
    ],
)
def test_invocation_options(event: object, expected: tuple[bool, int | None]) -> None:
    assert invocation_options(event) == expected


@pytest.mark.parametrize(
    "event", [{"dry_run": "yes"}, {"max_messages": 0}, {"max_messages": "10"}, {"max_messages": True}]
)
def test_invalid_invocation_options_are_refused(event: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"dry_run|max_messages"):
        invocation_options(event)


def test_a_letter_is_parsed_with_its_sources_and_event_ids() -> None:
    parsed = parse_letter(json.dumps(letter(redrive_attempts=2)))

    assert parsed is not None
    assert (parsed.reason, parsed.retryable, parsed.attempts, parsed.redrive_attempts) == (
        "server_error",
        True,
        4,
        2,
    )
    assert parsed.event_ids == ["e-1"]
    assert parsed.sources[0].batch_id == "7"
    assert parsed.origin == "webhook"
    assert parsed.first_attempt_at == 1795600800.0


def test_token_rejected_is_retryable_even_if_the_letter_says_otherwise() -> None:
    parsed = parse_letter(json.dumps(letter(reason="token_rejected", retryable=False)))

    assert parsed is not None and parsed.retryable


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps(letter(version=2)),
        json.dumps({key: value for key, value in letter().items() if key != "request"}),
        json.dumps(letter(retryable="true")),
        json.dumps(letter(redrive_attempts=-1)),
        json.dumps(letter(request={"data": []})),
        json.dumps(letter(source={"origin": "webhook", "events": []})),
        json.dumps(letter(source={"origin": "webhook", "events": [{"event_id": "e-1", "unexpected": 1}]})),
        json.dumps(letter(source={"origin": "webhook", "events": [{"event_id": 1}]})),
    ],
)
def test_anything_else_is_malformed(body: str) -> None:
    assert parse_letter(body) is None


def test_the_report_adds_up_and_shows_the_plan_only_for_a_dry_run() -> None:
    report = RedriveReport(
        dry_run=False,
        messages_read=7,
        messages_redriven=3,
        events_redriven=5,
        parked=Counter({"rejected": 1, "malformed": 1}),
        requeued=Counter({"server_error": 1}),
        left=Counter({"tiktok_unavailable": 1}),
        stopped="tiktok_unavailable",
    )

    assert report.accounted == report.messages_read
    document = report.to_dict()
    assert document["redriven"] == {"messages": 3, "events": 5}
    assert document["parked"] == {"malformed": 1, "rejected": 1}
    assert "plan" not in document
    assert "plan" in RedriveReport(dry_run=True).to_dict()


MAX_ATTEMPTS = 3
SERVER_ERROR, REJECTED, NO_PERMISSION = ANSWER_CODES[50000], ANSWER_CODES[40002], ANSWER_CODES[40001]
TOKEN_REJECTED = ANSWER_CODES[40105]
SEND, PARK, LEAVE, REQUEUE = Action.SEND, Action.PARK, Action.LEAVE, Action.REQUEUE
# Letter states (None: a message this version cannot read)
FRESH: dict[str, Any] = {}
LAST_TRY: dict[str, Any] = {"redrive_attempts": MAX_ATTEMPTS - 1}
AT_LIMIT: dict[str, Any] = {"redrive_attempts": MAX_ATTEMPTS}
REFUSED: dict[str, Any] = {"reason": "rejected", "retryable": False}
OWN_TOKEN: dict[str, Any] = {"token_from_request": True, "origin": "firehose"}


def parsed(**changes: Any) -> Letter:
    fields: dict[str, Any] = {
        "request": {"data": [{"event": "ViewContent", "event_id": "e-1"}]},
        "sources": [SourceRef(event_id="e-1")],
        "reason": "server_error",
        "retryable": True,
        "attempts": 4,
        "redrive_attempts": 0,
        "origin": "webhook",
        "first_attempt_at": 0.0,
    }
    return Letter(**{**fields, **changes})


class Row(NamedTuple):
    letter: dict[str, Any] | None
    failure: Outcome | None
    """None: the letter was just read; else what its replay came to."""
    action: Action
    reason: str
    stop: str | None = None
    parking: bool = True
    streak: int = 0
    """Retryable failures in a row before this one."""


DECISIONS: dict[str, Row] = {
    # A letter just read
    "retryable": Row(FRESH, None, SEND, "server_error"),
    "retryable, below the limit": Row({"redrive_attempts": 2}, None, SEND, "server_error"),
    "token rejected: sent once the secret is fixed": Row(
        {"reason": "token_rejected"}, None, SEND, "token_rejected"
    ),
    "malformed": Row(None, None, PARK, "malformed"),
    "malformed, no parking queue": Row(None, None, LEAVE, "malformed", parking=False),
    "refused by TikTok": Row(REFUSED, None, PARK, "rejected"),
    "no permission, no parking queue": Row(
        {"reason": "no_permission", "retryable": False}, None, LEAVE, "no_permission", parking=False
    ),
    "at the attempt limit": Row(AT_LIMIT, None, PARK, "attempts_exhausted"),
    "at the limit, no parking queue": Row(AT_LIMIT, None, LEAVE, "attempts_exhausted", parking=False),
    "request's own token": Row(OWN_TOKEN, None, PARK, "request_token_not_stored"),
    "request's own token, refused": Row({**OWN_TOKEN, **REFUSED}, None, PARK, "request_token_not_stored"),
    "request's own token, rejected": Row(
        {**OWN_TOKEN, "reason": "token_rejected"}, None, PARK, "request_token_not_stored"
    ),
    "request's own token, at the limit": Row(
        {**OWN_TOKEN, **AT_LIMIT}, None, PARK, "request_token_not_stored"
    ),
    "request's own token, no parking queue": Row(
        OWN_TOKEN, None, LEAVE, "request_token_not_stored", parking=False
    ),
    # After a failed replay
    "server error": Row(FRESH, SERVER_ERROR, REQUEUE, "server_error"),
    "second server error in a row": Row(FRESH, SERVER_ERROR, REQUEUE, "server_error", streak=1),
    "third in a row: TikTok is down": Row(
        FRESH, SERVER_ERROR, REQUEUE, "server_error", stop="tiktok_unavailable", streak=2
    ),
    "no answer": Row(FRESH, CONNECTION_ERROR, REQUEUE, "connection_error"),
    "unreadable answer": Row(FRESH, UNREADABLE_ANSWER, REQUEUE, "invalid_answer"),
    "refused: parked, and the streak ends": Row(FRESH, REJECTED, PARK, "rejected", streak=2),
    "no permission": Row(FRESH, NO_PERMISSION, PARK, "no_permission"),
    "refused, no parking queue": Row(FRESH, REJECTED, REQUEUE, "rejected", parking=False),
    "last attempt used": Row(LAST_TRY, SERVER_ERROR, PARK, "attempts_exhausted"),
    "last attempt used, no parking queue": Row(
        LAST_TRY, SERVER_ERROR, REQUEUE, "attempts_exhausted", parking=False
    ),
    "last attempt used, third in a row": Row(
        LAST_TRY, SERVER_ERROR, PARK, "attempts_exhausted", stop="tiktok_unavailable", streak=2
    ),
    "the secret's token refused": Row(
        FRESH, TOKEN_REJECTED, REQUEUE, "token_rejected", stop="token_rejected"
    ),
    "the secret's token refused, last attempt": Row(
        LAST_TRY, TOKEN_REJECTED, PARK, "attempts_exhausted", stop="token_rejected"
    ),
}


@pytest.mark.parametrize("row", DECISIONS.values(), ids=DECISIONS.keys())
def test_what_the_redrive_does_with_a_letter(row: Row) -> None:
    letter = None if row.letter is None else parsed(**row.letter)

    if row.failure is None:
        decision = decide_letter(letter, max_attempts=MAX_ATTEMPTS, parking=row.parking)
    else:
        assert letter is not None
        decision = decide_after_failure(
            letter, row.failure, max_attempts=MAX_ATTEMPTS, parking=row.parking, streak=row.streak
        )

    assert (decision.action, decision.reason, decision.stop) == (row.action, row.reason, row.stop)

"""TikTok's answers, classified by the one table delivery and the redrive share."""

import pytest

from tiktok_connector.delivery.tiktok_client import ANSWER_CODES, TikTokAnswer, Verdict, classify

DELIVERED, PARTIAL, RETRY = Verdict.DELIVERED, Verdict.PARTIAL, Verdict.RETRY
TOKEN_REJECTED, REJECTED = Verdict.TOKEN_REJECTED, Verdict.REJECTED

# (HTTP status, TikTok code) -> (verdict, reason)
ANSWERS: dict[tuple[int, int | None], tuple[Verdict, str]] = {
    (200, 0): (DELIVERED, "delivered"),
    (200, 20001): (PARTIAL, "partial_success"),
    (200, 40100): (RETRY, "rate_limited"),
    (200, 50000): (RETRY, "server_error"),
    (200, 50002): (RETRY, "server_error"),
    (200, 40105): (TOKEN_REJECTED, "token_rejected"),
    (401, 40105): (TOKEN_REJECTED, "token_rejected"),
    (200, 40001): (REJECTED, "no_permission"),
    (403, 40001): (REJECTED, "no_permission"),
    (200, 40002): (REJECTED, "rejected"),
    (200, 40006): (REJECTED, "rejected"),
    (200, None): (RETRY, "invalid_answer"),
    (408, None): (RETRY, "timeout"),
    (429, None): (RETRY, "rate_limited"),
    (429, 40100): (RETRY, "rate_limited"),
    (500, None): (RETRY, "server_error"),
    (502, None): (RETRY, "server_error"),
    (503, 0): (RETRY, "server_error"),
    (504, 40105): (RETRY, "server_error"),
    (400, None): (REJECTED, "rejected"),
    (400, 0): (REJECTED, "rejected"),
    (400, 20001): (REJECTED, "rejected"),
    (400, 40100): (REJECTED, "rejected"),
    (404, None): (REJECTED, "rejected"),
}


@pytest.mark.parametrize(
    ("status", "code", "verdict", "reason"),
    [pytest.param(*answer, *outcome, id=f"{answer[0]}-{answer[1]}") for answer, outcome in ANSWERS.items()],
)
def test_an_answer_is_classified_by_status_then_code(
    status: int, code: int | None, verdict: Verdict, reason: str
) -> None:
    outcome = TikTokAnswer(http_status=status, code=code, message="", request_id=None).outcome

    assert (outcome.verdict, outcome.reason) == (verdict, reason)
    assert outcome == classify(status, code)


def test_only_success_and_partial_success_are_accepted() -> None:
    accepted = {code for code, outcome in ANSWER_CODES.items() if outcome.accepted}

    assert accepted == {0, 20001}


def test_retryable_codes_are_those_worth_sending_again() -> None:
    retryable = {code for code, outcome in ANSWER_CODES.items() if outcome.retryable}

    # A rejected token is worth sending again once the secret holds a working one.
    assert retryable == {40100, 50000, 50002, 40105}

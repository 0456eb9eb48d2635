"""Match-key coverage in the answer and the metrics of both routes: what TikTok accepted, key by key.

The expected counts are read from what the TikTok sandbox accepted, so they hold whatever keys the
mapping adds; the fixed figures below are the keys the samples are known to carry.
"""

import pytest

from devstack.lambda_runtime import load_event
from tests.conftest import Stack
from tests.integration.test_observability import emf_metrics, stdout_documents
from tiktok_connector.delivery import deliver as delivery
from tiktok_connector.delivery.deliver import RetryPolicy
from tiktok_connector.mapping.match_keys import MATCH_KEYS, count_match_keys

FAST_POLICY = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02, reserve_ms=300, min_attempt_ms=100)
# webhook-purchase and its Firehose twin: a user with all three identities, a click id, the `_ttp` cookie,
# IP and user agent, and mParticle's reserved user attributes (advanced matching): every key
PURCHASE_KEYS = {
    "email": 1,
    "phone": 1,
    "external_id": 1,
    "ttclid": 1,
    "ttp": 1,
    "ip_and_user_agent": 1,
    "advanced_matching": 1,
}


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_POLICY", FAST_POLICY)


@pytest.mark.parametrize("sample", ["webhook-purchase", "firehose-purchase"])
def test_the_answer_counts_the_match_keys_of_the_forwarded_events(stack: Stack, sample: str) -> None:
    status, answer = stack.invoke(load_event(sample))

    assert (status, answer["forwarded"]) == (200, 1)
    assert list(answer["match_keys"]) == list(MATCH_KEYS)
    assert answer["match_keys"] == count_match_keys(stack.sandbox.accepted_events())
    assert {key: answer["match_keys"][key] for key in PURCHASE_KEYS} == PURCHASE_KEYS


def test_an_event_without_an_ip_address_has_no_ip_and_user_agent_key(stack: Stack) -> None:
    # Given two batches of one forwardable event each, the second without an IP address
    status, answer = stack.invoke(load_event("webhook-array-of-batches"))

    assert (status, answer["forwarded"], answer["warnings"]["missing_ip"]) == (200, 2, 1)
    assert answer["match_keys"]["ip_and_user_agent"] == 1
    assert answer["match_keys"] == count_match_keys(stack.sandbox.accepted_events())


def test_dead_lettered_events_are_not_counted(stack: Stack) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
    status, answer = stack.invoke(load_event("webhook-purchase"))

    assert (status, answer["forwarded"], answer["dead_lettered"]) == (200, 0, 1)
    assert answer["match_keys"] == dict.fromkeys(MATCH_KEYS, 0)


def test_a_batch_with_nothing_forwarded_still_names_every_key(stack: Stack) -> None:
    status, answer = stack.invoke(load_event("webhook-no-identifiers"))

    assert (status, answer["forwarded"]) == (200, 0)
    assert answer["match_keys"] == dict.fromkeys(MATCH_KEYS, 0)


@pytest.mark.parametrize("sample", ["webhook-array-of-batches", "firehose-purchase"])
def test_the_metrics_carry_the_same_counts_as_the_answer(
    stack: Stack, capsys: pytest.CaptureFixture[str], sample: str
) -> None:
    capsys.readouterr()
    status, answer = stack.invoke(load_event(sample))
    metrics = emf_metrics(stdout_documents(capsys.readouterr().out))

    assert status == 200
    assert {key: metrics[f"ForwardedWith_{key}"] for key in MATCH_KEYS} == {
        key: [float(count)] for key, count in answer["match_keys"].items()
    }
    # The dashboard's denominator comes from the same document
    assert metrics["EventsForwarded"] == [float(answer["forwarded"])]
    assert set(metrics) >= {
        "ForwardedWith_email",
        "ForwardedWith_phone",
        "ForwardedWith_external_id",
        "ForwardedWith_ttclid",
        "ForwardedWith_ttp",
        "ForwardedWith_ip_and_user_agent",
        "ForwardedWith_advanced_matching",
    }


def test_dead_lettered_events_emit_zero_counts(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.sandbox.fail_next({"kind": "tiktok_code", "code": 40002})
    capsys.readouterr()
    status, _ = stack.invoke(load_event("webhook-purchase"))
    metrics = emf_metrics(stdout_documents(capsys.readouterr().out))

    assert status == 200
    assert {key: metrics[f"ForwardedWith_{key}"] for key in MATCH_KEYS} == {key: [0.0] for key in MATCH_KEYS}

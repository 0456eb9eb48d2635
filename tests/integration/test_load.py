"""Load under random faults: many concurrent invocations, every event accounted for.

Eight worker processes stand for eight warm Lambda containers (one invocation at a time each, as Lambda
runs them); each sends 50 Webhook batches of 20 events to the real handler, which talks to the sandbox
and moto over loopback while the sandbox injects a fault into 30 % of the TikTok requests. The totals
are checked against what the sandbox accepted and what the dead-letter queue holds, not only against
the answers.
"""

import json
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from devstack import demo
from devstack.lambda_runtime import LocalLambdaContext, http_api_event, invoke
from tests.conftest import Stack

WORKERS: Final = 8
INVOCATIONS_PER_WORKER: Final = 50
FORWARDABLE_PER_BATCH: Final = 18
SKIPPED_PER_BATCH: Final = {"unsupported_event": 1, "no_identifiers": 0, "invalid_page_url": 1}
EVENTS_PER_BATCH: Final = FORWARDABLE_PER_BATCH + sum(SKIPPED_PER_BATCH.values())
FAULT_RATE: Final = 0.3
ALWAYS_REJECTED: Final = [f"load-{worker}-0-0" for worker in range(WORKERS)]
# Faults that make TikTok refuse or drop the request; a slow answer that TikTok accepts late would count
# an event as both accepted and dead-lettered, which the fault matrix covers on its own.
FAULTS: Final[list[dict[str, Any]]] = [
    {"kind": "tiktok_code", "code": 40100},
    {"kind": "tiktok_code", "code": 50002},
    {"kind": "tiktok_code", "code": 40002},
    {"kind": "http_status", "status": 429},
    {"kind": "http_status", "status": 500},
    {"kind": "http_status", "status": 502},
    {"kind": "http_status", "status": 503},
    {"kind": "reset"},
]


@dataclass
class WorkerResult:
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    sent_ids: list[str] = field(default_factory=list)


def _batch(worker: int, invocation: int) -> tuple[dict[str, Any], list[str]]:
    prefix = f"load-{worker}-{invocation}"
    event_ids = [f"{prefix}-{index}" for index in range(FORWARDABLE_PER_BATCH)]

    def event(event_id: str, action: str = "purchase", url: str = "https://shop.example.com/p/1") -> object:
        return {
            "event_type": "commerce_event",
            "data": {
                "source_message_id": event_id,
                "timestamp_unixtime_ms": 1741953980400 + invocation,
                "currency_code": "EUR",
                "custom_flags": {"TikTok.URL": url},
                "product_action": {
                    "action": action,
                    "transaction_id": f"ORD-{prefix}",
                    "total_amount": "74.50",
                    "products": [{"id": 1077218, "price": "25.00", "quantity": 2}],
                },
            },
        }

    events = [event(event_id) for event_id in event_ids]
    events.append(event(f"{prefix}-refund", action="refund"))
    events.append(event(f"{prefix}-bad-url", url="javascript:void(0)"))
    batch = {
        "events": events,
        "user_identities": [
            {"identity_type": "email", "identity": "jane.doe@example.com"},
            {"identity_type": "customer_id", "identity": "CUST-10042"},
        ],
        "ip": "203.0.113.24",
        "device_info": {"http_header_user_agent": "Mozilla/5.0 (load test)"},
        "batch_id": 4_000_000_000_000_000_000 + worker * 1000 + invocation,
    }
    return batch, event_ids


def _init_worker() -> None:
    """A warm container with the fast retry policy of the fault matrix."""
    from tiktok_connector.delivery import deliver as delivery

    delivery.RETRY_POLICY = delivery.RetryPolicy(  # type: ignore[misc]
        max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, connect_timeout_s=1.0, read_timeout_s=2.0
    )


def _run_worker(worker: int) -> WorkerResult:
    result = WorkerResult()
    for invocation in range(INVOCATIONS_PER_WORKER):
        batch, event_ids = _batch(worker, invocation)
        event = http_api_event(json.dumps(batch), headers={"authorization": demo.WEBHOOK_AUTHORIZATION})
        result.answers.append(invoke(event, LocalLambdaContext(timeout_s=25)))
        result.sent_ids.extend(event_ids)
    return result


def test_concurrent_invocations_under_random_faults_account_for_every_event(stack: Stack) -> None:
    # Given a sandbox that fails 30 % of the requests at random (seeded, but the interleaving is not)
    stack.sandbox.set_random_faults(FAULT_RATE, FAULTS, seed=20261125)
    # and one event per worker that TikTok always refuses: random faults alone may all be retried away,
    # so these make sure the dead-letter path is taken under load too
    stack.sandbox.set_rejected_events(ALWAYS_REJECTED)
    # When eight containers send their batches concurrently
    # A fork server (no threads in it) with the handler preloaded: workers start in milliseconds,
    # and no worker is forked from this process, which runs the sandbox's threads.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tiktok_connector.entrypoints.api", "devstack.lambda_runtime"])
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context, initializer=_init_worker) as pool:
        results = list(pool.map(_run_worker, range(WORKERS)))
    answers = [answer for result in results for answer in result.answers]
    forwardable = {event_id for result in results for event_id in result.sent_ids}

    # Then every invocation answered 200 with a consistent summary
    assert Counter(status for status, _ in answers) == {200: WORKERS * INVOCATIONS_PER_WORKER}
    sent = len(answers) * EVENTS_PER_BATCH
    delivered = sum(answer["forwarded"] for _, answer in answers)
    dead_lettered = sum(answer["dead_lettered"] for _, answer in answers)
    skipped: Counter[str] = Counter()
    for _, answer in answers:
        skipped.update(answer["skipped"])
    unaccounted = sent - delivered - skipped.total() - dead_lettered
    assert unaccounted == 0
    assert all(answer.get("unaccounted", 0) == 0 for _, answer in answers)
    assert skipped == {reason: count * len(answers) for reason, count in SKIPPED_PER_BATCH.items() if count}

    # and the sandbox and the queue agree with the answers, event by event
    accepted = [event["event_id"] for event in stack.sandbox.accepted_events()]
    letters = stack.dead_letters()
    in_queue = [event["event_id"] for letter in letters for event in letter["request"]["data"]]
    assert len(accepted) == len(set(accepted)) == delivered
    assert len(in_queue) == len(set(in_queue)) == dead_lettered
    assert not set(accepted) & set(in_queue)
    assert set(accepted) | set(in_queue) == forwardable
    reasons = Counter(letter["reason"] for letter in letters for _ in letter["request"]["data"])
    requests = stack.sandbox.requests()
    faults = Counter(
        f"{r.fault['kind']}:{r.fault.get('code', r.fault.get('status', ''))}" for r in requests if r.fault
    )

    figures = {
        "workers": WORKERS,
        "invocations": len(answers),
        "sent": sent,
        "delivered": delivered,
        "skipped": skipped.total(),
        "dead_lettered": dead_lettered,
        "unaccounted": unaccounted,
        "tiktok_requests": len(requests),
        "retries": sum(answer["tiktok_requests"] for _, answer in answers) - len(answers),
        "faults_injected": faults.total(),
        "connections_opened": stack.sandbox.connections_opened,
        "dead_letter_reasons": dict(sorted(reasons.items())),
        "skipped_by_reason": dict(sorted(skipped.items())),
        "faults_by_kind": dict(sorted(faults.items())),
    }
    print(f"LOAD-TEST-FIGURES {json.dumps(figures)}")
    # Faults did happen, and the retries absorbed most of them
    assert faults.total() > 0
    assert 0 < dead_lettered < delivered
    # The refused events never reached TikTok's accepted set: each was isolated and dead-lettered
    assert set(ALWAYS_REJECTED) <= set(in_queue)

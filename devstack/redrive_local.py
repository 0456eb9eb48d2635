"""`make redrive`: the dead-letter redrive, demonstrated on the local stack or run against real queues.

Demo (default): starts a local AWS endpoint (moto server) and the TikTok sandbox, sends the Webhook
samples in `events/` through the real handler during a TikTok outage (every request answered 503)
and one TikTok rejection, so that they land in the dead-letter queue; shows the queue, runs a dry run,
restores TikTok, runs the redrive and shows what TikTok received and that the queue is empty.

    make redrive                            # the whole demonstration
    make redrive ARGS=--dry-run-only        # stop after the dry run
    make redrive ARGS="--use-env --dry-run-only"   # against the queues the environment names

`--use-env` reads the function's environment (SECRET_ID, DEAD_LETTER_QUEUE_URL, TIKTOK_API_URL,
PARKING_QUEUE_URL, REDRIVE_MAX_ATTEMPTS, and the usual AWS variables) and runs the redrive once.
Nothing printed holds an identity (the queue holds hashes only, and only event ids are shown) or a token.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RULE = "─" * 100
RUN_BUDGET_S = 300  # the deployed function's timeout
OUTAGE = [{"kind": "http_status", "status": 503}]
REJECTED_SAMPLE = "webhook-checkout.json"


def _deadline(seconds: float) -> Callable[[], int]:
    end = time.monotonic() + seconds

    def remaining_ms() -> int:
        return max(0, int((end - time.monotonic()) * 1000))

    return remaining_ms


def _print_report(title: str, report: dict[str, object]) -> None:
    """The counts as JSON; a dry run's plan one line per message."""
    plan = report.pop("plan", None)
    print(f"{title}:")
    for key, value in report.items():
        print(f"     {key + ':':<16} {json.dumps(value, ensure_ascii=False)}")
    if isinstance(plan, list) and plan:
        print("     plan:")
        for entry in plan:
            if "event_ids" in entry:
                what = f"{entry['events']} event(s): {', '.join(entry['event_ids'])}"
            else:
                what = "(not a dead letter this version can read; kept as it is)"
            print(f"       {entry['action']:<5} {entry['reason']:<20} {what}")


def _letter_line(letter: dict[str, Any]) -> str:
    request = letter.get("request")
    data = request.get("data", []) if isinstance(request, dict) else []
    event_ids = [str(item.get("event_id")) for item in data if isinstance(item, dict)]
    reason = letter.get("parked_reason") or letter.get("reason")
    retryable = str(letter.get("retryable")).lower()
    return (
        f"     {reason!s:<20} retryable={retryable:<5} redrive_attempts={letter.get('redrive_attempts')}  "
        f"{len(event_ids)} event(s): {', '.join(event_ids)}"
    )


def _show_queue(title: str, endpoint: str, queue_url: str) -> int:
    from devstack.local_aws import read_queue

    letters = read_queue(endpoint, queue_url)
    print(f"{title}: {len(letters)} message(s)")
    for letter in letters:
        print(_letter_line(letter))
    return len(letters)


def _fill_dead_letter_queue(sandbox: Any) -> None:
    from devstack.lambda_runtime import EVENTS_DIR, invoke, load_event

    print(RULE)
    print("1. TikTok outage: every request is answered 503; the samples are dead-lettered after retries.")
    print(f"   One request ({REJECTED_SAMPLE}) is rejected instead (code 40002): not retryable.")
    sandbox.set_random_faults(1.0, OUTAGE, seed=1)
    for path in sorted(Path(EVENTS_DIR).glob("webhook-*.json")):
        if path.name == REJECTED_SAMPLE:
            sandbox.fail_next({"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter."})
        status, body = invoke(load_event(path.name))
        outcome = (
            f"dead-lettered {body.get('dead_lettered')} {body.get('dead_letter_reasons', {})}"
            if status == 200
            else body.get("error")
        )
        print(f"   {path.name:<45} HTTP {status}  {outcome}")


def _demo(dry_run_only: bool, max_messages: int | None) -> int:
    from devstack import demo
    from devstack.local_aws import MotoServer, aws_environment, create_connector_resources
    from devstack.tiktok_sandbox import TikTokSandbox
    from tiktok_connector.redrive.runner import run_from_environment

    with MotoServer() as moto, TikTokSandbox(access_tokens=(demo.ACCESS_TOKEN,)) as sandbox:
        resources = create_connector_resources(moto.url, secret=demo.SECRET, name="tiktok-connector-redrive")
        os.environ.update(aws_environment(moto.url))
        os.environ.update(demo.connector_environment(resources, sandbox.track_url))
        print(f"local AWS endpoint (moto server): {moto.url}")
        print(f"TikTok sandbox:                   {sandbox.track_url}")
        print(f"dead-letter queue:                {resources.queue_url}")
        print(f"parking queue:                    {resources.parking_queue_url}")

        _fill_dead_letter_queue(sandbox)
        print(RULE)
        _show_queue("2. The dead-letter queue", moto.url, resources.queue_url)

        print(RULE)
        before = len(sandbox.requests())
        report = run_from_environment(
            dry_run=True, max_messages=max_messages, remaining_ms=_deadline(RUN_BUDGET_S), wait_time_s=0
        )
        _print_report("3. Dry run (nothing is sent, nothing changes)", report.to_dict())
        print(f"   TikTok requests during the dry run: {len(sandbox.requests()) - before}")
        _show_queue("   The dead-letter queue after the dry run", moto.url, resources.queue_url)
        if dry_run_only:
            return 0

        print(RULE)
        print("4. TikTok is back; the redrive runs.")
        sandbox.set_random_faults(0, [])
        before = len(sandbox.requests())
        report = run_from_environment(
            dry_run=False, max_messages=max_messages, remaining_ms=_deadline(RUN_BUDGET_S), wait_time_s=0
        )
        _print_report("   report", report.to_dict())
        print("   TikTok received:")
        for record in sandbox.requests()[before:]:
            data = record.body.get("data", []) if isinstance(record.body, dict) else []
            events = ", ".join(f"{item.get('event')} {item.get('event_id')}" for item in data)
            print(f"     code {record.code}: {events}")

        print(RULE)
        left = _show_queue("5. The dead-letter queue now", moto.url, resources.queue_url)
        _show_queue("   The parking queue", moto.url, resources.parking_queue_url)
        return 0 if left == 0 or max_messages is not None else 1


def _against_environment(dry_run_only: bool, max_messages: int | None) -> int:
    from tiktok_connector.platform.errors import ConfigurationError
    from tiktok_connector.redrive.runner import run_from_environment

    try:
        report = run_from_environment(
            dry_run=dry_run_only, max_messages=max_messages, remaining_ms=_deadline(RUN_BUDGET_S)
        )
    except ConfigurationError as error:
        print(f"configuration: {error}", file=sys.stderr)
        return 2
    _print_report("dry run" if dry_run_only else "redrive", report.to_dict())
    return 0 if report.stopped in (None, "deadline") else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make redrive ARGS=...", description="Replay the TikTok connector's dead-letter queue."
    )
    parser.add_argument(
        "--dry-run-only", action="store_true", help="report what would be sent; change nothing"
    )
    parser.add_argument(
        "--use-env", action="store_true", help="run against the queues and secret the environment names"
    )
    parser.add_argument("--max-messages", type=int, default=None, metavar="N", help="read at most N messages")
    parser.add_argument("--verbose", action="store_true", help="show the functions' JSON logs and metrics")
    args = parser.parse_args(argv)
    if args.max_messages is not None and args.max_messages < 1:
        parser.error("--max-messages must be at least 1")
    if not args.verbose:
        # Set before tiktok_connector is imported: its logger and metrics read them once. The
        # demo's dead letters would each log a warning; the report says the same.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.use_env:
        return _against_environment(args.dry_run_only, args.max_messages)
    return _demo(args.dry_run_only, args.max_messages)


if __name__ == "__main__":
    sys.exit(main())

"""`make redrive`: the dead-letter redrive, demonstrated on the local stack or run against real queues.

Demo (default): starts a local AWS endpoint (moto server) and the TikTok sandbox, sends the Webhook
samples in `events/` through the real handler during a TikTok outage (every request answered 503)
and one TikTok rejection, so that they land in the dead-letter queue. Two special letters join them
(`devstack/redrive_cases.py`): one event too large for an SQS message, kept whole in the dead-letter
bucket behind a pointer message, and a Firehose request's refusal that was sent with the request's own
token; a second such request meets the outage and is answered 503 instead. The demo shows the queue
and the bucket, runs a dry run, restores TikTok, runs the redrive and shows what TikTok received, that
the queue and the bucket are empty, and the parking queue.

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
from collections.abc import Callable, Mapping, Sequence
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
            print(f"       {entry['action']:<5} {entry['reason']:<24} {what}")


def _letter_line(letter: dict[str, Any]) -> str:
    request = letter.get("request")
    data = request.get("data", []) if isinstance(request, dict) else []
    event_ids = [str(item.get("event_id")) for item in data if isinstance(item, dict)]
    reason = letter.get("parked_reason") or letter.get("reason")
    retryable = str(letter.get("retryable")).lower()
    source = letter.get("source")
    by_request = isinstance(source, dict) and source.get("access_token") == "request"
    token = "  source.access_token=request" if by_request else ""
    return (
        f"     {reason!s:<24} retryable={retryable:<5} redrive_attempts={letter.get('redrive_attempts')}  "
        f"{len(event_ids)} event(s): {', '.join(event_ids)}{token}"
    )


def _show_queue(title: str, endpoint: str, queue_url: str) -> int:
    """Each letter on one line; a pointer message is followed to its letter, and shown under it."""
    from devstack.redrive_cases import peek_queue, read_object
    from tiktok_connector.delivery.letter_store import SIZE_ATTRIBUTE, parse_pointer

    messages = peek_queue(endpoint, queue_url)
    print(f"{title}: {len(messages)} message(s)")
    for message in messages:
        pointer = parse_pointer(message.body)
        text = message.body if pointer is None else read_object(endpoint, pointer.bucket, pointer.key)
        print(_letter_line(json.loads(text)))
        if pointer is not None:
            size = int(message.attributes.get(SIZE_ATTRIBUTE, "0"))
            print(f"       ↳ the message is a {len(message.body)}-byte pointer: {message.body}")
            print(f"         {SIZE_ATTRIBUTE}={size:,} bytes: the letter above, read through it from S3")
    return len(messages)


def _fill_dead_letter_queue(sandbox: Any) -> int:
    """Returns the status answered to the request that brought its own token and met the outage."""
    from devstack.lambda_runtime import EVENTS_DIR, invoke, load_event
    from devstack.redrive_cases import send_special_letters

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
    return send_special_letters(sandbox)


def _demo(dry_run_only: bool, max_messages: int | None) -> int:
    from devstack import demo
    from devstack.local_aws import MotoServer, aws_environment, create_connector_resources
    from devstack.redrive_cases import REQUEST_TOKEN, redrive_findings, show_bucket
    from devstack.tiktok_sandbox import TikTokSandbox
    from tiktok_connector.redrive.runner import run_from_environment

    tokens = (demo.ACCESS_TOKEN, REQUEST_TOKEN)
    with MotoServer() as moto, TikTokSandbox(access_tokens=tokens) as sandbox:
        resources = create_connector_resources(moto.url, secret=demo.SECRET, name="tiktok-connector-redrive")
        os.environ.update(aws_environment(moto.url))
        os.environ.update(demo.connector_environment(resources, sandbox.track_url))
        print(f"local AWS endpoint (moto server): {moto.url}")
        print(f"TikTok sandbox:                   {sandbox.track_url}")
        print(f"dead-letter queue:                {resources.queue_url}")
        print(f"dead-letter bucket:               {resources.bucket}")
        print(f"parking queue:                    {resources.parking_queue_url}")

        resent_status = _fill_dead_letter_queue(sandbox)
        print(RULE)
        _show_queue("2. The dead-letter queue", moto.url, resources.queue_url)
        show_bucket("   The dead-letter bucket", moto.url, resources.bucket)

        print(RULE)
        before = len(sandbox.requests())
        report = run_from_environment(
            dry_run=True, max_messages=max_messages, remaining_ms=_deadline(RUN_BUDGET_S), wait_time_s=0
        )
        _print_report("3. Dry run (nothing is sent, nothing changes)", report.to_dict())
        print(f"   TikTok requests during the dry run: {len(sandbox.requests()) - before}")
        _show_queue("   The dead-letter queue after the dry run", moto.url, resources.queue_url)
        show_bucket("   The dead-letter bucket after the dry run", moto.url, resources.bucket)
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
        records = sandbox.requests()[before:]
        print("   TikTok received:")
        for record in records:
            data = record.body.get("data", []) if isinstance(record.body, dict) else []
            events = ", ".join(f"{item.get('event')} {item.get('event_id')}" for item in data)
            large = f"  ({record.raw_size:,}-byte request)" if record.raw_size > 64 * 1024 else ""
            print(f"     code {record.code}: {events}{large}")

        print(RULE)
        left = _show_queue("5. The dead-letter queue now", moto.url, resources.queue_url)
        bucket_after = show_bucket("   The dead-letter bucket", moto.url, resources.bucket)
        _show_queue("   The parking queue", moto.url, resources.parking_queue_url)

        print(RULE)
        print("6. In numbers:")
        print(f"   messages_read  {report.messages_read}")
        print(f"   redriven       {report.messages_redriven} messages, {report.events_redriven} events")
        print(f"   parked         {_counts(report.parked)}")
        print(f"   requeued       {_counts(report.requeued)}")
        print(f"   left           {_counts(report.left)}")
        as_meant = redrive_findings(records, dict(report.parked), bucket_after, resent_status)
        if max_messages is not None:
            return 0
        return 0 if left == 0 and as_meant else 1


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in sorted(counts.items())) or "0"


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

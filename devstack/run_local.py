"""`make run`: the connector end to end on this machine.

Starts a local AWS endpoint (moto server) and the TikTok sandbox, creates the secret and the
dead-letter queue, sends every file in `events/` through the real Lambda handler in-process, and
prints for each the answer to mParticle, the TikTok requests as received (hashed) and any dead
letters. Finally it induces a TikTok rejection to show a dead letter. Everything it started stops.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

from devstack import demo
from devstack.lambda_runtime import EVENTS_DIR, invoke
from devstack.local_aws import MotoServer, aws_environment, create_connector_resources, read_queue
from devstack.tiktok_sandbox import TikTokSandbox

RULE = "─" * 100


def _print_json(title: str, document: object) -> None:
    print(f"  {title}:")
    for line in json.dumps(document, indent=2, ensure_ascii=False).splitlines():
        print(f"    {line}")


def _show(name: str, event: dict[str, Any], sandbox: TikTokSandbox, endpoint: str, queue_url: str) -> None:
    route = event.get("rawPath", "/events")
    print(RULE)
    print(f"{name}  →  POST {route}")
    before = len(sandbox.requests())
    status, body = invoke(event)
    _print_json(f"answer to mParticle (HTTP {status})", body)
    received = sandbox.requests()[before:]
    if not received:
        print("  TikTok received: nothing")
    for request in received:
        _print_json(f"TikTok received (answered code {request.code})", request.body)
    letters = read_queue(endpoint, queue_url, delete=True)
    for letter in letters:
        request_body = letter.get("request")
        data = request_body.get("data", []) if isinstance(request_body, dict) else []
        _print_json(
            "dead letter",
            {
                "reason": letter.get("reason"),
                "retryable": letter.get("retryable"),
                "attempts": letter.get("attempts"),
                "error": letter.get("error"),
                "event_ids": [item.get("event_id") for item in data if isinstance(item, dict)],
            },
        )


def main() -> int:
    if "--verbose" not in sys.argv:
        # The function's JSON logs and EMF metrics would drown the demo; `--verbose` shows them.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    with MotoServer() as moto, TikTokSandbox(access_tokens=(demo.ACCESS_TOKEN,)) as sandbox:
        resources = create_connector_resources(moto.url, secret=demo.SECRET, name="tiktok-connector-local")
        os.environ.update(aws_environment(moto.url))
        os.environ.update(demo.connector_environment(resources, sandbox.track_url))
        print(f"local AWS endpoint (moto server): {moto.url}")
        print(f"TikTok sandbox:                   {sandbox.track_url}")
        print(f"secret:                           {resources.secret_arn}")
        print(f"dead-letter queue:                {resources.queue_url}")

        files = sorted(Path(EVENTS_DIR).glob("*.json"))
        for path in files:
            _show(path.name, json.loads(path.read_text()), sandbox, moto.url, resources.queue_url)

        print(RULE)
        print("Induced failure: TikTok rejects the next request (code 40002) → the events are dead-lettered")
        sandbox.fail_next({"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter"})
        sample = json.loads((Path(EVENTS_DIR) / "webhook-add-to-cart.json").read_text())
        _show("webhook-add-to-cart.json (rejected)", sample, sandbox, moto.url, resources.queue_url)

        accepted = sandbox.accepted_events()
        print(RULE)
        print(
            f"{len(files)} sample requests sent; TikTok accepted {len(accepted)} events "
            f"in {sum(1 for r in sandbox.requests() if r.code == 0)} requests."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

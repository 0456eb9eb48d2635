"""`make run`: the connector end to end on this machine.

Starts a local AWS endpoint (moto server) and the TikTok sandbox, creates the secret and the
dead-letter queue, sends every file in `events/` through the real Lambda handler in-process, and
prints for each the answer to mParticle, the TikTok requests as received (hashed) and any dead
letters. Then it induces a TikTok rejection to show a dead letter. It ends with one table: per
sample the answer, the TikTok events, the dead letters and whether all of it matches the sample's
golden file in `events/expected/` (`make golden` rewrites those). Everything it started stops.

    python -m devstack.run_local [--summary] [--verbose]

`--summary` prints only the table; `--verbose` keeps the function's JSON logs and metrics.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import golden
from devstack.lambda_runtime import EVENTS_DIR
from devstack.local_stack import LocalStack, local_stack

RULE = "─" * 100
INDUCED_FAULT = {"kind": "tiktok_code", "code": 40002, "message": "Invalid parameter"}
INDUCED_SAMPLE = "webhook-add-to-cart.json"


def _print_json(title: str, document: object) -> None:
    print(f"  {title}:")
    for line in json.dumps(document, indent=2, ensure_ascii=False).splitlines():
        print(f"    {line}")


def _show(title: str, observation: golden.Observation) -> None:
    print(RULE)
    print(f"{title}  →  {observation.route}")
    _print_json(f"answer to mParticle (HTTP {observation.status})", observation.answer)
    if not observation.requests:
        print("  TikTok received: nothing")
    for request in observation.requests:
        _print_json(f"TikTok received (answered code {request.code})", request.body)
    for letter in observation.dead_letters:
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


# -- the summary table ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    sample: str
    answer: str
    tiktok: str
    dead_letters: str
    golden: str


def _answer_cell(status: int, body: dict[str, Any]) -> str:
    if "forwarded" in body:
        skipped = sum(body["skipped"].values()) if isinstance(body.get("skipped"), dict) else 0
        return f"{status} · {body['forwarded']}/{skipped}/{body['dead_lettered']}"
    if "error" in body:
        return f"{status} · {body['error']}"
    kind = str(body.get("type", "")).removesuffix("_response").removeprefix("module_")
    return f"{status} · {kind}" if kind else str(status)


def _tiktok_cell(observation: golden.Observation) -> str:
    if not observation.requests:
        return "—"
    parts = []
    for request in observation.requests:
        data = request.body.get("data", []) if isinstance(request.body, dict) else []
        names = ", ".join(str(item.get("event")) for item in data if isinstance(item, dict))
        parts.append(names if request.code == 0 else f"{names} (code {request.code})")
    return "; ".join(parts)


def _dead_letter_cell(letters: list[dict[str, Any]]) -> str:
    if not letters:
        return "—"
    reasons: dict[str, int] = {}
    for letter in letters:
        reason = str(letter.get("reason"))
        reasons[reason] = reasons.get(reason, 0) + 1
    return ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))


def _golden_cell(observation: golden.Observation) -> str:
    path = golden.expected_path(observation.sample)
    if not path.exists():
        return "missing"
    return "yes" if golden.matches(golden.load_expected(observation.sample), observation.golden()) else "NO"


def _induced_golden_cell(observation: golden.Observation) -> str:
    """A rejected sample differs from its golden file by design; its request to TikTok must not."""
    path = golden.expected_path(observation.sample)
    if not path.exists():
        return "missing"
    recorded = [request["body"] for request in golden.load_expected(observation.sample)["tiktok_requests"]]
    sent = [request["body"] for request in observation.golden()["tiktok_requests"]]
    return "request yes" if golden.matches(recorded, sent) else "request NO"


def row(observation: golden.Observation, *, label: str | None = None, induced: bool = False) -> Row:
    return Row(
        sample=label or observation.sample.removesuffix(".json"),
        answer=_answer_cell(observation.status, observation.answer),
        tiktok=_tiktok_cell(observation),
        dead_letters=_dead_letter_cell(observation.dead_letters),
        golden=_induced_golden_cell(observation) if induced else _golden_cell(observation),
    )


def render_table(rows: list[Row]) -> list[str]:
    header = Row("sample", "answer: HTTP · fwd/skip/dl", "TikTok events", "dead letters", "golden")
    cells = [(r.sample, r.answer, r.tiktok, r.dead_letters, r.golden) for r in [header, *rows]]
    widths = [max(len(line[column]) for line in cells) for column in range(5)]
    lines = []
    for index, line in enumerate(cells):
        lines.append("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("─" * width for width in widths))
    return lines


# -- the run ----------------------------------------------------------------------------------------


def _observe(stack: LocalStack, path: Path) -> golden.Observation:
    event = json.loads(path.read_text(encoding="utf-8"))
    return golden.observe(path.name, event, sandbox=stack.sandbox, dead_letters=stack.take_dead_letters)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    detailed = "--summary" not in args
    rows: list[Row] = []
    with local_stack(quiet="--verbose" not in args) as stack:
        if detailed:
            print(f"local AWS endpoint (moto server): {stack.moto.url}")
            print(f"TikTok sandbox:                   {stack.sandbox.track_url}")
            print(f"secret:                           {stack.resources.secret_arn}")
            print(f"dead-letter queue:                {stack.resources.queue_url}")

        samples = golden.sample_paths()
        for path in samples:
            observation = _observe(stack, path)
            rows.append(row(observation))
            if detailed:
                _show(path.name, observation)

        stack.sandbox.fail_next(INDUCED_FAULT)
        rejected = _observe(stack, EVENTS_DIR / INDUCED_SAMPLE)
        label = f"{INDUCED_SAMPLE.removesuffix('.json')} + TikTok rejects"
        rows.append(row(rejected, label=label, induced=True))
        if detailed:
            print(RULE)
            print(
                "Induced failure: TikTok rejects the next request (code 40002) → the events are dead-lettered"
            )
            _show(f"{INDUCED_SAMPLE} (rejected)", rejected)
            print(RULE)

        accepted = stack.sandbox.accepted_events()
        accepted_requests = sum(1 for request in stack.sandbox.requests() if request.code == 0)

    print("Summary (answer: HTTP status · events forwarded/skipped/dead-lettered)")
    for line in render_table(rows):
        print(line)
    matching = sum(1 for r in rows[: len(samples)] if r.golden == "yes")
    print(
        f"{len(samples)} samples, {matching} match their golden files in events/expected/; "
        f"TikTok accepted {len(accepted)} events in {accepted_requests} requests."
    )
    if matching != len(samples):
        print("A sample differs: python -m devstack.golden shows the diff; make golden accepts it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Golden files: what each sample in `events/` must produce, kept next to it in `events/expected/`.

`events/expected/<sample>.json` holds, for `events/<sample>.json` sent through the real handler
against the local stack (moto server and the TikTok sandbox, with `devstack.demo`'s configuration):

    {
      "sample": "webhook-purchase.json",
      "route": "POST /events",
      "answer": {"status": 200, "body": {...the JSON answer to mParticle...}},
      "tiktok_requests": [{"answered_code": 0, "body": {...the request body TikTok received...}}],
      "dead_letters": [{...each dead-letter message, as queued...}]
    }

Values that change from run to run are replaced by placeholders: times taken from the clock during
the run (`event_time` or `timestamp_ms` when they are "now") by `"<now>"`, attempt and dead-letter
times by `"<time>"`, TikTok's request ids by `"<request id>"`. Everything else is compared exactly
(`25.0` and `25` differ, as they would on the wire).

    python -m devstack.golden            # compare every sample with its golden file; exit 1 on a difference
    python -m devstack.golden --update   # rewrite the golden files (`make golden`); review `git diff events/`

`tests/integration/test_golden.py` runs the comparison in the suite; `make run` prints it per sample.
"""

import argparse
import difflib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from devstack.lambda_runtime import EVENTS_DIR, invoke
from devstack.tiktok_sandbox import RecordedRequest, TikTokSandbox

EXPECTED_DIR: Final = EVENTS_DIR / "expected"
NOW: Final = "<now>"
TIME: Final = "<time>"
REQUEST_ID: Final = "<request id>"
_CLOCK_KEYS_S: Final = frozenset({"event_time"})
_CLOCK_KEYS_MS: Final = frozenset({"timestamp_ms"})
_TIME_KEYS: Final = frozenset({"first_attempt_at", "last_attempt_at", "dead_lettered_at"})
_SLACK_S: Final = 2


def sample_paths() -> list[Path]:
    """Every sample in `events/`, by name."""
    return sorted(EVENTS_DIR.glob("*.json"))


def expected_path(sample: str) -> Path:
    """The golden file of a sample (by file name, with or without `.json`)."""
    return EXPECTED_DIR / (sample if sample.endswith(".json") else f"{sample}.json")


def load_expected(sample: str) -> dict[str, Any]:
    """A sample's golden file, parsed."""
    document: dict[str, Any] = json.loads(expected_path(sample).read_text(encoding="utf-8"))
    return document


def expected_tiktok_events(sample: str) -> list[dict[str, Any]]:
    """The events of every request TikTok accepted for a sample, in order (placeholders included)."""
    return [
        event
        for request in load_expected(sample)["tiktok_requests"]
        if request["answered_code"] == 0
        for event in request["body"]["data"]
    ]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one sample produced: the answer, the requests TikTok received, the dead letters queued."""

    sample: str
    route: str
    status: int
    answer: dict[str, Any]
    requests: list[RecordedRequest]
    dead_letters: list[dict[str, Any]]
    started: float
    finished: float

    def golden(self) -> dict[str, Any]:
        """This observation in the golden-file form, volatile values replaced by placeholders."""
        window = (int(self.started) - _SLACK_S, int(self.finished) + _SLACK_S)
        document = {
            "sample": self.sample,
            "route": self.route,
            "answer": {"status": self.status, "body": self.answer},
            "tiktok_requests": [
                {"answered_code": request.code, "body": request.body} for request in self.requests
            ],
            "dead_letters": self.dead_letters,
        }
        normalised: dict[str, Any] = _normalise(document, window)
        return normalised


def observe(
    sample: str,
    event: dict[str, Any],
    *,
    sandbox: TikTokSandbox,
    dead_letters: Callable[[], list[dict[str, Any]]],
) -> Observation:
    """Send one API Gateway event through the real handler and collect everything it caused."""
    before = len(sandbox.requests())
    started = time.time()
    status, answer = invoke(event)
    finished = time.time()
    return Observation(
        sample=sample,
        route=str(event.get("routeKey") or f"POST {event.get('rawPath', '/events')}"),
        status=status,
        answer=answer,
        requests=sandbox.requests()[before:],
        dead_letters=dead_letters(),
        started=started,
        finished=finished,
    )


def _normalise(value: Any, window: tuple[int, int], key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v, window, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(item, window) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = window
        if key in _CLOCK_KEYS_S and low <= value <= high:
            return NOW
        if key in _CLOCK_KEYS_MS and low * 1000 <= value <= high * 1000:
            return NOW
    if key in _TIME_KEYS and isinstance(value, str):
        return TIME
    if key == "request_id" and isinstance(value, str):
        return REQUEST_ID
    return value


def canonical(document: object) -> str:
    """The comparison form: key order ignored, numbers as written (`25.0` is not `25`)."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False)


def matches(expected: object, observed: object) -> bool:
    return canonical(expected) == canonical(observed)


def _pretty(document: object) -> list[str]:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False).splitlines(keepends=True)


def difference(expected: object, observed: object, name: str = "golden") -> str:
    """A unified diff, golden file first; empty when they match."""
    return "".join(
        difflib.unified_diff(_pretty(expected), _pretty(observed), f"{name} (expected)", f"{name} (observed)")
    )


def render(document: object) -> str:
    """A golden file's text: readable, stable, one trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- command line ------------------------------------------------------------------------------------


def _selected(names: Sequence[str]) -> list[Path]:
    paths = sample_paths()
    if not names:
        return paths
    wanted = {name if name.endswith(".json") else f"{name}.json" for name in names}
    unknown = wanted - {path.name for path in paths}
    if unknown:
        raise SystemExit(f"no such sample in events/: {', '.join(sorted(unknown))}")
    return [path for path in paths if path.name in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.golden",
        description="Compare (or, with --update, rewrite) the golden files in events/expected/.",
    )
    parser.add_argument("--update", action="store_true", help="rewrite the golden files that differ")
    parser.add_argument("samples", nargs="*", help="sample names (default: every file in events/)")
    args = parser.parse_args(argv)

    from devstack.local_stack import local_stack

    paths = _selected(args.samples)
    differing: list[str] = []
    with local_stack(name="tiktok-connector-golden") as stack:
        for path in paths:
            event = json.loads(path.read_text(encoding="utf-8"))
            observed = observe(
                path.name, event, sandbox=stack.sandbox, dead_letters=stack.take_dead_letters
            ).golden()
            target = expected_path(path.name)
            expected = json.loads(target.read_text(encoding="utf-8")) if target.exists() else None
            if expected is not None and matches(expected, observed):
                print(f"  same     {path.name}")
                continue
            differing.append(path.name)
            if args.update:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(render(observed), encoding="utf-8")
                action = "written" if expected is None else "updated"
                print(f"  {action}  {target.relative_to(EVENTS_DIR.parent)}")
            elif expected is None:
                print(f"  MISSING  {path.name}: no {target.name} in events/expected/")
            else:
                print(f"  DIFFERS  {path.name}")
                sys.stdout.write(difference(expected, observed, target.name))

    orphans = [] if args.samples else _orphans()
    for orphan in orphans:
        if args.update:
            orphan.unlink()
            print(f"  removed  {orphan.name} (its sample is gone)")
        else:
            print(f"  ORPHAN   events/expected/{orphan.name}: no such sample")

    if args.update:
        if differing or orphans:
            print("Review the change: git diff -- events/expected/")
        return 0
    if differing or orphans:
        print("Golden files differ. If the change is deliberate: make golden, then review git diff.")
        return 1
    print(f"All {len(paths)} samples match their golden files.")
    return 0


def _orphans() -> list[Path]:
    samples = {path.name for path in sample_paths()}
    return [path for path in sorted(EXPECTED_DIR.glob("*.json")) if path.name not in samples]


if __name__ == "__main__":
    sys.exit(main())

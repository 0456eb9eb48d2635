"""`make preview FILE=...`: what the connector would send to TikTok for recorded mParticle data, offline.

Before going live, feed it batches exported from mParticle and see, with this deployment's settings,
the TikTok request bodies (identities already hashed), how many events carry each match key, and why
the others would be skipped. Nothing is sent and nothing needs AWS: it runs the function's own parsers
and mapping, only delivery is left out (every mapped event counts as if TikTok accepted it).

Input (one or more files or folders of `*.json` files): a Webhook batch (mParticle's outbound JSON), a
JSON array of batches, a Firehose `event_processing_request`, an API Gateway event (as in `events/`:
its `body` is read; its `Authorization` header is not checked), or JSON lines of any of those (one
request body per line). Firehose messages without events (registration, audience, DSR) are counted
and left out; a body the function would refuse is listed with the reason.

Settings come from the function's environment variables (`TIKTOK_PIXEL_ID`, `EMAIL_IDENTITY_TYPE`,
`EXTERNAL_IDENTITY_TYPE`, `PHONE_IDENTITY_TYPE`, `CONTENT_TYPE`, `DEFAULT_PHONE_REGION`,
`CUSTOM_MAPPINGS`, `TIKTOK_TEST_EVENT_CODE`, the consent and match-quality settings such as
`LIMITED_DATA_USE`, ...) with the function's defaults; none is required: a
missing Pixel Id shows as a placeholder. A Firehose request takes its Pixel Id and identity settings
from its own account settings, as on the `/firehose` route, and the deployment's Pixel Id when it has
none.

Writes into `--output` (default `tmp/preview`, ignored by git): `requests.jsonl` (every TikTok
request body, one a line), `summary.json` (the counts) and `preview-coverage.png` (match-key coverage
by key). The bodies hold what TikTok would get: identities hashed, but IP addresses, user agents and
click ids as they are; keep them where the source data may be kept.
"""

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from tqdm import tqdm

from tiktok_connector.config import Settings, load_settings
from tiktok_connector.inbound.firehose import (
    EVENT_PROCESSING_REQUEST,
    connection_settings,
    message_type,
    parse_event_processing_request,
)
from tiktok_connector.inbound.json_body import parse_json
from tiktok_connector.inbound.registration import PIXEL_ID
from tiktok_connector.inbound.webhook import parse_batch
from tiktok_connector.mapping.mapper import map_batches
from tiktok_connector.mapping.match_keys import MATCH_KEYS, count_match_keys, request_events
from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.model.events import Batch
from tiktok_connector.model.tiktok import JsonObject, TikTokRequest
from tiktok_connector.platform.errors import BadRequestError, ConfigurationError, ConnectorError
from tiktok_connector.platform.http_edge import request_body

DEFAULT_OUTPUT: Final = Path("tmp") / "preview"
CHART_FILE: Final = "preview-coverage.png"
REQUESTS_FILE: Final = "requests.jsonl"
SUMMARY_FILE: Final = "summary.json"
PLACEHOLDER_PIXEL_ID: Final = "PREVIEW_PIXEL_ID"
# The function needs these to run; the preview touches neither the secret nor the queue.
_OFFLINE_DEFAULTS: Final = {
    "SECRET_ID": "preview-no-secret",
    "DEAD_LETTER_QUEUE_URL": "preview-no-queue",
    "TIKTOK_PIXEL_ID": PLACEHOLDER_PIXEL_ID,
}


class PreviewInputError(Exception):
    """A file cannot be read at all (missing, a folder without JSON files)."""


def deployment_settings(environ: Mapping[str, str]) -> Settings:
    """The function's settings from these variables, validated the same way; nothing is required."""
    given = dict(environ)
    for name, value in _OFFLINE_DEFAULTS.items():
        if not given.get(name, "").strip():
            given[name] = value
    return load_settings(given)


@dataclass(slots=True)
class Body:
    """One request body as mParticle would POST it: what one invocation of the function maps."""

    where: str
    route: str
    batches: list[Batch]
    pixel_id: str
    mapping: MappingSettings


@dataclass(slots=True)
class PreviewResult:
    """The counts over every body read; `match_keys` is over the mapped events."""

    bodies: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    received: int = 0
    mapped: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    match_keys: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MATCH_KEYS, 0))
    requests: int = 0
    shown: list[tuple[str, TikTokRequest]] = field(default_factory=list)

    def share(self, key: str) -> float | None:
        return self.match_keys[key] / self.mapped if self.mapped else None

    def to_json(self) -> JsonObject:
        return {
            "bodies": dict(sorted(self.bodies.items())),
            "ignored_messages": dict(sorted(self.ignored.items())),
            "rejected_bodies": len(self.rejected),
            "received": self.received,
            "mapped": self.mapped,
            "skipped": dict(sorted(self.skipped.items())),
            "warnings": dict(sorted(self.warnings.items())),
            "tiktok_requests": self.requests,
            "match_keys": dict(self.match_keys),
            "match_key_share": {key: self.share(key) for key in MATCH_KEYS},
        }


class Previewer:
    """Reads documents, maps each body with the function's code, and keeps the counts."""

    def __init__(self, settings: Settings, requests_out: TextIO, *, show: int) -> None:
        self.settings = settings
        self.result = PreviewResult()
        self._requests_out = requests_out
        self._show = show

    def feed(self, document: object, where: str, advance: Callable[[int], object], size: int) -> None:
        """One decoded document; `advance` moves the progress by `size` bytes as its batches are mapped."""
        if isinstance(document, list) and any(_is_message(item) for item in document):
            # A list of whole request bodies (Firehose messages, API Gateway events): each on its own.
            step = size // len(document)
            for index, item in enumerate(document):
                self.feed(item, f"{where}[{index}]", advance, step)
            advance(size - step * len(document))
            return
        try:
            body = self._body(document, where)
        except ConnectorError as error:
            self.reject(where, f"{_status(error)} {error}")
            advance(size)
            return
        if body is None:
            advance(size)
            return
        step = size // len(body.batches) if body.batches else 0
        self._map(body, advance, step)
        advance(size - step * len(body.batches))

    def reject(self, where: str, problem: str) -> None:
        self.result.rejected.append((where, problem))

    def _body(self, document: object, where: str) -> Body | None:
        """The body one document stands for; None for a Firehose message that carries no events."""
        if _is_api_gateway_event(document):
            assert isinstance(document, dict)
            return self._body(parse_json(request_body(document)), f"{where} body")
        kind = message_type(document)
        if isinstance(document, dict) and kind is not None:
            if kind == EVENT_PROCESSING_REQUEST:
                return self._firehose_body(document, where)
            self.result.ignored[kind] += 1
            return None
        if isinstance(document, dict):
            return self._webhook_body([parse_batch(document, "batch")], where)
        if isinstance(document, list):
            batches = [parse_batch(item, f"batch[{index}]") for index, item in enumerate(document)]
            return self._webhook_body(batches, where)
        raise BadRequestError(
            "not an mParticle batch, an array of batches, a Firehose message or an API Gateway event"
        )

    def _webhook_body(self, batches: list[Batch], where: str) -> Body:
        pixel_id, mapping = self.settings.webhook_settings()
        return Body(where, "webhook", batches, pixel_id, mapping)

    def _firehose_body(self, document: dict[str, object], where: str) -> Body:
        request = parse_event_processing_request(document)
        account = dict(request.account_settings)
        if not account.get(PIXEL_ID, "").strip() and self.settings.pixel_id:
            account[PIXEL_ID] = self.settings.pixel_id
        connection = connection_settings(
            account,
            default_phone_region=self.settings.default_phone_region,
            custom_mappings=self.settings.custom_mappings,
            match=self.settings.match,
        )
        return Body(where, "firehose", [request.batch], connection.pixel_id, connection.mapping)

    def _map(self, body: Body, advance: Callable[[int], object], step: int) -> None:
        def batches() -> Iterator[Batch]:
            for batch in body.batches:
                yield batch
                advance(step)

        mapped = map_batches(batches(), body.mapping)
        requests = mapped.requests(body.pixel_id, self.settings.test_event_code)
        result = self.result
        result.bodies[body.route] += 1
        result.received += mapped.received
        result.mapped += len(mapped.payloads)
        result.skipped.update(mapped.skipped)
        result.warnings.update(mapped.warnings)
        for key, count in count_match_keys(request_events(requests)).items():
            result.match_keys[key] += count
        for request in requests:
            result.requests += 1
            self._requests_out.write(json.dumps(request.body, ensure_ascii=False) + "\n")
            if len(result.shown) < self._show:
                result.shown.append((body.where, request))


def _status(error: ConnectorError) -> str:
    """What the function would answer the body with: 500 for its own configuration, else 400."""
    return "500 misconfigured:" if isinstance(error, ConfigurationError) else "400"


def _is_api_gateway_event(document: object) -> bool:
    return (
        isinstance(document, dict)
        and "body" in document
        and ("requestContext" in document or "routeKey" in document)
    )


def _is_message(document: object) -> bool:
    """A document that is a request body of its own: a Firehose message or an API Gateway event."""
    return _is_api_gateway_event(document) or message_type(document) is not None


# --------------------------------------------------------------------------------------------------
# Reading files


def input_files(paths: Sequence[Path]) -> list[Path]:
    """The files to read: each file given, and the `*.json`/`*.jsonl` files of each folder given, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in {".json", ".jsonl"} and p.is_file())
            if not found:
                raise PreviewInputError(f"{path}: no .json or .jsonl files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise PreviewInputError(f"{path}: no such file or folder")
    return files


def read_documents(path: Path) -> Iterator[tuple[str, object, int]]:
    """(where, document, size in bytes) of one file: one JSON document, or JSON lines read one by one.

    A file is JSON lines when its first non-blank line is a JSON document on its own and another
    non-blank line follows; such a file is read line by line, never held in memory whole.
    """
    with path.open("rb") as stream:
        head: list[tuple[int, bytes]] = []
        number = 0
        for line in stream:
            number += 1
            if line.strip():
                head.append((number, line))
                if len(head) == 2:
                    break
        if len(head) == 2 and _parses(head[0][1]):
            yield from _json_lines(path, _numbered(head, stream, number))
            return
    data = path.read_bytes()
    try:
        yield str(path), parse_json(data), len(data)
    except ConnectorError as error:
        yield str(path), _Unreadable(str(error)), len(data)


@dataclass(frozen=True, slots=True)
class _Unreadable:
    problem: str


def _parses(line: bytes) -> bool:
    try:
        parse_json(line)
    except ConnectorError:
        return False
    return True


def _numbered(
    head: list[tuple[int, bytes]], rest: Iterable[bytes], number: int
) -> Iterator[tuple[int, bytes]]:
    yield from head
    for line in rest:
        number += 1
        yield number, line


def _json_lines(path: Path, lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[str, object, int]]:
    for number, line in lines:
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield where, parse_json(line), len(line)
        except ConnectorError as error:
            yield where, _Unreadable(str(error)), len(line)


# --------------------------------------------------------------------------------------------------
# Output


def write_chart(result: PreviewResult, path: Path) -> None:
    """A horizontal bar per match key: its share of the mapped events, with the count."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = list(reversed(MATCH_KEYS))
    shares = [100 * (result.share(key) or 0.0) for key in keys]
    figure = Figure(figsize=(8, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    bars = axes.barh([key.replace("_", " ") for key in keys], shares, color="#25b4c8")
    axes.bar_label(
        bars,
        labels=[f"{share:.0f}%  ({result.match_keys[key]})" for key, share in zip(keys, shares, strict=True)],
        padding=4,
    )
    axes.set_xlim(0, 118)
    axes.set_xlabel("share of mapped events (%)")
    axes.set_title(f"TikTok match-key coverage over {result.mapped} mapped events")
    axes.spines[["top", "right"]].set_visible(False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def print_report(result: PreviewResult, settings: Settings, out: TextIO, output_dir: Path) -> None:
    def line(text: str = "") -> None:
        out.write(text + "\n")

    mapping = settings.webhook_mapping
    line("Settings (the function's environment variables, defaults where unset):")
    pixel = settings.pixel_id or PLACEHOLDER_PIXEL_ID
    line(f"  TIKTOK_PIXEL_ID {pixel}{'  (placeholder)' if pixel == PLACEHOLDER_PIXEL_ID else ''}")
    if mapping is not None:
        line(
            f"  identity types: email={mapping.email_identity_type} phone={mapping.phone_identity_type}"
            f" external_id={mapping.external_identity_type}; content type {mapping.content_type}"
        )
    else:
        line(f"  Webhook settings invalid: {settings.webhook_problem}")
    line(
        f"  DEFAULT_PHONE_REGION {settings.default_phone_region}; "
        f"CUSTOM_MAPPINGS {len(settings.custom_mappings)}; "
        f"TIKTOK_TEST_EVENT_CODE {'set' if settings.test_event_code else 'unset'}"
    )
    match = settings.match
    line(
        f"  LIMITED_DATA_USE {match.limited_data_use}; "
        f"GDPR_CONSENT_PURPOSE {match.gdpr_consent_purpose or 'none'}; "
        f"FORWARD_ANONYMOUS_WITH_CLICK_ID {'true' if match.forward_anonymous_with_click_id else 'false'}; "
        f"PURCHASE_EVENT {match.purchase_event}"
    )
    line()
    for index, (where, request) in enumerate(result.shown, start=1):
        line(f"── TikTok request {index} of {result.requests}  ({where}, {_events(request.event_count)})")
        line(json.dumps(request.body, indent=2, ensure_ascii=False))
    if result.requests > len(result.shown):
        line(f"── {result.requests - len(result.shown)} more request(s): {output_dir / REQUESTS_FILE}")
    line()
    bodies = ", ".join(f"{route} {count}" for route, count in sorted(result.bodies.items())) or "none"
    line(f"Request bodies mapped: {bodies}")
    if result.ignored:
        ignored = ", ".join(f"{kind} {count}" for kind, count in sorted(result.ignored.items()))
        line(f"Firehose messages without events (left out): {ignored}")
    line(
        f"Events: {result.received} received, {result.mapped} mapped into {result.requests} TikTok "
        f"request(s), {result.skipped.total()} skipped"
    )
    line()
    line(f"Match-key coverage over {result.mapped} mapped events:")
    line(f"  {'key':<20}{'events':>8}{'share':>9}")
    for key in MATCH_KEYS:
        share = result.share(key)
        line(f"  {key:<20}{result.match_keys[key]:>8}{_percent(share):>9}")
    _counter_table(line, "Skip reasons", result.skipped, result.received)
    _counter_table(line, "Warnings (the events are still sent)", result.warnings, result.received)
    if result.rejected:
        line()
        line(f"Bodies the function would refuse ({len(result.rejected)}):")
        for where, problem in result.rejected[:20]:
            line(f"  {where}: {problem}")
        if len(result.rejected) > 20:
            line(f"  ... {len(result.rejected) - 20} more")
    line()
    line(f"Written: {output_dir / REQUESTS_FILE}, {output_dir / SUMMARY_FILE}, {output_dir / CHART_FILE}")


def _counter_table(line: Callable[[str], None], title: str, counts: Counter[str], received: int) -> None:
    line("")
    if not counts:
        line(f"{title}: none")
        return
    line(f"{title}, share of received events:")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        line(f"  {name:<20}{count:>8}{_percent(count / received if received else None):>9}")


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


# --------------------------------------------------------------------------------------------------
# Command line


def run_preview(
    paths: Sequence[Path],
    *,
    environ: Mapping[str, str],
    output_dir: Path,
    show: int = 20,
    progress: bool | None = None,
) -> tuple[PreviewResult, Settings]:
    """Preview every file; writes the request bodies, the summary and the chart into `output_dir`."""
    settings = deployment_settings(environ)
    files = input_files(paths)
    output_dir.mkdir(parents=True, exist_ok=True)
    with (
        (output_dir / REQUESTS_FILE).open("w", encoding="utf-8") as requests_out,
        tqdm(
            total=sum(path.stat().st_size for path in files),
            unit="B",
            unit_scale=True,
            desc="mapping",
            file=sys.stderr,
            # None: shown on a terminal only.
            disable=None if progress is None else not progress,
            leave=False,
        ) as bar,
    ):
        previewer = Previewer(settings, requests_out, show=show)
        for path in files:
            for where, document, size in read_documents(path):
                if isinstance(document, _Unreadable):
                    previewer.reject(where, f"400 {document.problem}")
                    bar.update(size)
                else:
                    previewer.feed(document, where, bar.update, size)
    result = previewer.result
    (output_dir / SUMMARY_FILE).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    write_chart(result, output_dir / CHART_FILE)
    return result, settings


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make preview FILE=...",
        description="Show, offline, what the connector would send to TikTok for recorded mParticle data.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders (their *.json, *.jsonl)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"default {DEFAULT_OUTPUT}")
    parser.add_argument("--show", type=int, default=20, help="request bodies to print (default 20)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        result, settings = run_preview(
            args.paths,
            environ=os.environ,
            output_dir=args.output,
            show=max(0, args.show),
            progress=False if args.no_progress else None,
        )
    except (PreviewInputError, ConnectorError) as error:
        print(f"preview: {error}", file=sys.stderr)
        return 2
    print_report(result, settings, sys.stdout, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Mapping throughput: the project's path from request body to TikTok request bodies, and the floor."""

import gc
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from bench import floor, workload
from devstack.lambda_runtime import http_api_event
from tiktok_connector.config import load_settings
from tiktok_connector.delivery import tiktok_client
from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping.mapper import map_batches
from tiktok_connector.model.tiktok import JsonObject
from tiktok_connector.platform.http_edge import request_body

Encoder = Callable[[JsonObject], bytes]


@dataclass(frozen=True, slots=True)
class MappingFigure:
    events: int
    project_us: float
    """Microseconds per event, median of the repeats."""
    floor_us: float
    """The floor with orjson, the project's JSON library."""
    floor_stdlib_us: float
    """The floor with the standard library's `json` (information only)."""
    same_output: bool
    """The floor produced exactly the project's TikTok events (else the comparison is void)."""

    @property
    def ratio(self) -> float:
        return self.project_us / self.floor_us


def project_encoder() -> tuple[str, Encoder]:
    """How the project serialises a request body before it POSTs it.

    `tiktok_client.encode_request_body` when the project exposes one (so this benchmark follows the
    project's choice of JSON library), else the `json.dumps` call `delivery._send_with_retries` makes.
    """
    exposed = getattr(tiktok_client, "encode_request_body", None)
    if callable(exposed):
        return "tiktok_client.encode_request_body", cast(Encoder, exposed)

    def encode(body: JsonObject) -> bytes:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    return "json.dumps (as delivery.py)", encode


def project_path(environ: dict[str, str]) -> Callable[[dict[str, Any]], list[bytes]]:
    settings = load_settings(environ)
    pixel_id, mapping_settings = settings.webhook_settings()
    _, encode = project_encoder()

    def run(raw_event: dict[str, Any]) -> list[bytes]:
        batches = parse_webhook_body(request_body(raw_event))
        mapped = map_batches(batches, mapping_settings)
        requests = mapped.requests(pixel_id, settings.test_event_code)
        return [encode(request.body) for request in requests]

    return run


def dead_letter_bytes(environ: dict[str, str], body: str) -> int:
    """Bytes the dead-letter queue would receive for this body if TikTok refused every request."""
    import time as clock

    from tiktok_connector.delivery.dead_letters import DeliveryFailure, dead_letter_messages

    settings = load_settings(environ)
    pixel_id, mapping_settings = settings.webhook_settings()
    mapped = map_batches(parse_webhook_body(body.encode("utf-8")), mapping_settings)
    now = clock.time()
    failure = DeliveryFailure(
        reason="tiktok_unavailable",
        retryable=True,
        attempts=3,
        first_attempt_at=now,
        last_attempt_at=now,
        http_status=503,
        message="Service Unavailable",
    )
    return sum(
        len(letter.body.encode("utf-8"))
        for request in mapped.requests(pixel_id, settings.test_event_code)
        for letter in dead_letter_messages(request, failure, origin="webhook")
    )


def _loops_for(call: Callable[[], object], min_seconds: float) -> int:
    """Calls per repeat so that one repeat lasts about `min_seconds` (after a warm-up call)."""
    call()
    started = time.perf_counter()
    call()
    elapsed = time.perf_counter() - started
    return max(1, math.ceil(min_seconds / max(elapsed, 1e-7)))


def _seconds_per_call(call: Callable[[], object], loops: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(loops):
        call()
    return (time.perf_counter() - started) / loops


def _events_of(bodies: list[bytes]) -> list[object]:
    events: list[object] = []
    for body in bodies:
        events.extend(json.loads(body)["data"])
    return events


def measure_mapping(
    environ: dict[str, str],
    sizes: tuple[int, ...] = (1, 100, 1000),
    repeats: int = 7,
    min_seconds: float = 0.12,
) -> list[MappingFigure]:
    """Median µs per event of the project and of the floor, interleaved on the same bodies."""
    project = project_path(environ)
    pixel_id = environ["TIKTOK_PIXEL_ID"]
    codecs = {"orjson": floor.orjson_codec(), "json": floor.stdlib_codec()}
    figures = []
    for size in sizes:
        body = workload.batch_body(size)
        raw_event = http_api_event(body)
        runs: dict[str, Callable[[], list[bytes]]] = {"project": partial(project, raw_event)}
        for name, (loads, dumps) in codecs.items():
            runs[name] = partial(floor.floor_requests, body, pixel_id, loads, dumps)
        same = _events_of(runs["project"]()) == _events_of(runs["orjson"]())
        loops = {name: _loops_for(run, min_seconds) for name, run in runs.items()}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                times[name].append(_seconds_per_call(run, loops[name]))
        per_event = {name: statistics.median(samples) / size * 1e6 for name, samples in times.items()}
        figures.append(
            MappingFigure(
                events=size,
                project_us=per_event["project"],
                floor_us=per_event["orjson"],
                floor_stdlib_us=per_event["json"],
                same_output=same,
            )
        )
    return figures


if __name__ == "__main__":
    from devstack import demo
    from devstack.local_aws import ConnectorResources

    resources = ConnectorResources(secret_arn="bench", queue_url="bench", parking_queue_url="bench")
    env = {**os.environ, **demo.connector_environment(resources, "http://127.0.0.1:9/track/")}
    for figure in measure_mapping(env):
        print(figure, f"ratio={figure.ratio:.2f}")

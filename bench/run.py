"""`make bench`: measure the connector on this machine, print each figure against its target, and
record the run in BENCHMARKS.md.

    .venv/bin/python -m bench.run [--no-write] [--json PATH] [--only mapping,latency,cold,memory,network]
"""

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import ROOT, floor, workload
from bench.report import Row, check, machine, text_table, write_benchmarks
from bench.stack import LocalStack, Mode
from devstack import demo

SECTIONS = ("mapping", "latency", "cold", "memory", "network")
MAX_EVENTS_PER_REQUEST = 1000

NOTES = [
    "Workload: one mParticle Webhook batch (one user) of N `commerce_event`s, each with two products, the "
    "three identities (email, customer id, mobile number), `TikTok.URL`/`Referrer`/`Callback` flags, a "
    "mix of the five native product actions; compact JSON, ~1.1 KB per event (`bench/workload.py`).",
    "Mapping: the project's path from the API Gateway event's body to serialised TikTok request bodies "
    "(`request_body`, `parse_webhook_body`, `map_batches` with the demo's settings and custom mappings, "
    "`build_requests`, serialisation as `delivery.py` does it) against the floor (`bench/floor.py`: "
    "parse, pick three identities, three SHA-256, build the event dicts in a plain loop, serialise; "
    "standard-library `json`, and orjson for information when installed). Both produce the same TikTok "
    "events (checked each run). Median of 7 interleaved repeats, µs per event.",
    "Latency: a fresh interpreter imports the handler and invokes it in-process (API Gateway HTTP API "
    "event, fake Lambda context) against the TikTok sandbox over loopback; 20 warm-up then N timed warm "
    "invocations per batch size, each followed by a bare keep-alive `http.client` POST of the same TikTok "
    "body (the sandbox's own round trip). Overhead = handler p50 - bare p50.",
    "Modes: `untraced` sets POWERTOOLS_TRACE_DISABLED as the tests do; `deployed` sets what Lambda sets "
    "(LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, _X_AMZN_TRACE_ID per invocation) so Powertools loads the "
    "X-Ray SDK, patches the libraries and emits segments over UDP to a local sink; logs at INFO to "
    "/dev/null.",
    "Cold start: `python -P bench/child.py` in a fresh interpreter times the import of "
    "`tiktok_connector.handler`, then the first invocation (settings, secret from moto, clients, first "
    "TCP connection); baseline `import boto3, requests` likewise. Interleaved rounds after one discarded "
    "warm-up round; medians.",
    "Memory: `ru_maxrss` of a fresh interpreter (deployed mode) after one invocation with the body "
    "(largest batch of whole events that fits in http_edge.MAX_BODY_BYTES = 5 MiB, and 1,000 events).",
    "Network: one fresh container, 1 cold + 100 warm invocations (single events, then one batch each of "
    "100, 1,000 and 2,500 events); TikTok requests counted from the answers and by the sandbox, TCP "
    "connections by the sandbox.",
]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _mapping(stack: LocalStack) -> tuple[list[Row], dict[str, Any]]:
    from bench.mapping_bench import measure_mapping, project_encoder

    figures = measure_mapping(stack.connector_environment())
    encoder, _ = project_encoder()
    section = f"Mapping throughput (µs per event; project serialises with {encoder}; floor with json)"
    rows = []
    for figure in figures:
        label = f"{figure.events:,} event{'s' if figure.events > 1 else ''}"
        rows.append(Row(section, f"project, {label}", f"{figure.project_us:.1f} µs"))
        rows.append(Row(section, f"floor, {label}", f"{figure.floor_us:.1f} µs"))
        if figure.floor_orjson_us is not None:
            rows.append(
                Row(section, f"floor with orjson (information), {label}", f"{figure.floor_orjson_us:.1f} µs")
            )
        if not figure.same_output:
            rows.append(Row(section, f"floor output = project output, {label}", "differs", "equal", "fail"))
        ratio = f"{figure.ratio:.2f}x"
        if figure.events >= 100:
            rows.append(
                Row(
                    section,
                    f"ratio project / floor, {label}",
                    ratio,
                    "<= 2x (aim 1.5x)",
                    check(figure.ratio <= 2),
                )
            )
        else:
            rows.append(Row(section, f"ratio project / floor, {label}", ratio))
    raw = {
        "project_serialiser": encoder,
        "figures": [
            {
                "events": f.events,
                "project_us": f.project_us,
                "floor_us": f.floor_us,
                "floor_orjson_us": f.floor_orjson_us,
                "ratio": f.ratio,
                "same_output": f.same_output,
            }
            for f in figures
        ],
    }
    return rows, raw


def _latency(stack: LocalStack, mode: Mode, invocations: int) -> tuple[list[Row], dict[str, Any]]:
    loads, dumps = floor.stdlib_codec()
    options: dict[str, Any] = {
        "url": stack.sandbox.track_url,
        "token": demo.ACCESS_TOKEN,
        "n": invocations,
        "warmup": 20,
        "sizes": "1,100",
    }
    for events in (1, 100):
        body = workload.batch_body(events)
        options[f"body{events}"] = stack.write(f"latency-{events}.json", body)
        tiktok = floor.floor_requests(body, demo.PIXEL_ID, loads, dumps)[0].decode("utf-8")
        options[f"tiktok{events}"] = stack.write(f"latency-tiktok-{events}.json", tiktok)
    stack.sandbox.reset()
    result = stack.run_child("latency", mode, **options)
    stack.sandbox.reset()
    section = f"End-to-end warm latency, {mode} ({invocations} warm invocations per size, ms)"
    rows = []
    raw: dict[str, Any] = {"tracing_loaded": result["tracing_loaded"]}
    for size in ("1", "100"):
        samples = result["sizes"][size]
        handler, bare = samples["handler_ms"], samples["bare_ms"]
        p50, p99 = _percentile(handler, 0.5), _percentile(handler, 0.99)
        bare50, bare99 = _percentile(bare, 0.5), _percentile(bare, 0.99)
        cpu = statistics.mean(samples["cpu_ms"])
        overhead = p50 - bare50
        label = f"{size} event{'s' if size != '1' else ''}"
        rows.append(Row(section, f"handler p50 / p99, {label}", f"{p50:.2f} / {p99:.2f} ms"))
        rows.append(Row(section, f"sandbox round trip p50 / p99, {label}", f"{bare50:.2f} / {bare99:.2f} ms"))
        rows.append(Row(section, f"handler CPU time per invocation (mean), {label}", f"{cpu:.2f} ms"))
        rows.append(
            Row(
                section,
                f"overhead (handler - round trip) p50 / p99, {label}",
                f"{overhead:.2f} / {p99 - bare99:.2f} ms",
                "p50 <= 0.5 ms" if size == "1" else "",
                check(overhead <= 0.5) if size == "1" else "info",
            )
        )
        raw[size] = {
            "p50": p50,
            "p99": p99,
            "bare_p50": bare50,
            "bare_p99": bare99,
            "overhead_p50": overhead,
            "cpu_mean": cpu,
        }
    return rows, raw


def _cold(stack: LocalStack, runs: int) -> tuple[list[Row], dict[str, Any]]:
    body = stack.write("cold-1.json", workload.batch_body(1))
    samples: dict[str, list[dict[str, Any]]] = {"baseline": [], "untraced": [], "deployed": []}
    for round_index in range(runs + 1):
        baseline = stack.run_child("baseline", "untraced")
        untraced = stack.run_child("cold", "untraced", body=body)
        deployed = stack.run_child("cold", "deployed", body=body)
        if round_index:  # the first round warms the file cache and writes the .pyc files
            samples["baseline"].append(baseline)
            samples["untraced"].append(untraced)
            samples["deployed"].append(deployed)
    stack.sandbox.reset()

    def median(kind: str, key: str) -> float:
        return float(statistics.median(sample[key] for sample in samples[kind]))

    base = median("baseline", "import_ms")
    section = f"Cold start (fresh interpreter, median of {runs})"
    rows = [Row(section, "baseline: import boto3, requests", f"{base:.0f} ms")]
    base_modules = samples["baseline"][-1]["modules"]
    raw: dict[str, Any] = {"baseline_import_ms": base, "baseline_modules": base_modules}
    for mode in ("untraced", "deployed"):
        imported, first = median(mode, "import_ms"), median(mode, "first_invocation_ms")
        ratio = imported / base
        rows.append(Row(section, f"import handler, {mode}", f"{imported:.0f} ms"))
        rows.append(
            Row(
                section, f"import handler / baseline, {mode}", f"{ratio:.2f}x", "<= 1.5x", check(ratio <= 1.5)
            )
        )
        rows.append(Row(section, f"first invocation, {mode}", f"{first:.0f} ms"))
        sqs_created = any(sample["sqs_client_created"] for sample in samples[mode])
        rows.append(
            Row(
                section,
                f"SQS client created by a successful first invocation, {mode}",
                "yes" if sqs_created else "no",
                "no (lazy)",
                check(not sqs_created),
            )
        )
        loaded = samples[mode][-1]["loaded_at_import"]
        modules = samples[mode][-1]["modules"]
        rows.append(
            Row(section, f"modules loaded by the import, {mode}", f"{modules} (baseline {base_modules})")
        )
        raw[mode] = {
            "import_ms": imported,
            "ratio": ratio,
            "first_invocation_ms": first,
            "modules": modules,
            "loaded_at_import": loaded,
        }
    return rows, raw


def _memory(stack: LocalStack) -> tuple[list[Row], dict[str, Any]]:
    from tiktok_connector.platform.http_edge import MAX_BODY_BYTES

    largest, events = workload.largest_body(MAX_BODY_BYTES)
    cases = {
        f"5 MiB body ({len(largest.encode('utf-8')):,} bytes, {events:,} events)": largest,
        "1,000-event batch": workload.batch_body(1000),
    }
    section = "Memory (peak RSS of a fresh container, deployed mode)"
    rows, raw = [], {}
    for index, (label, body) in enumerate(cases.items()):
        stack.sandbox.reset()
        result = stack.run_child("rss", "deployed", body=stack.write(f"rss-{index}.json", body))
        expected = body.count('"event_type":"commerce_event"')
        if result["forwarded"] != expected:
            raise RuntimeError(f"rss run forwarded {result['forwarded']} of {expected} events")
        peak = result["peak_mb"]
        if index == 0:
            rows.append(Row(section, "after importing the handler", f"{result['after_import_mb']:.0f} MB"))
            rows.append(Row(section, f"peak, {label}", f"{peak:.0f} MB", "<= 128 MB", check(peak <= 128)))
        else:
            rows.append(Row(section, f"peak, {label}", f"{peak:.0f} MB"))
        raw[label] = result
    stack.sandbox.reset()
    return rows, raw


def _network(stack: LocalStack) -> tuple[list[Row], dict[str, Any]]:
    sizes = (1, 100, 1000, 2500)
    options: dict[str, Any] = {"sizes": ",".join(map(str, sizes)), "warm": 100}
    for size in sizes:
        options[f"body{size}"] = stack.write(f"network-{size}.json", workload.batch_body(size))
    stack.sandbox.reset()
    result = stack.run_child("network", "deployed", **options)
    connections = stack.sandbox.connections_opened
    recorded = stack.sandbox.requests()
    stack.sandbox.reset()
    section = f"Network efficiency (one container, 1 cold + {result['invocations'] - 1} warm invocations)"
    rows = []
    total_requests = 0
    for size in sizes:
        counts = result["per_size"][str(size)]
        expected = counts["invocations"] * math.ceil(size / MAX_EVENTS_PER_REQUEST)
        total_requests += counts["tiktok_requests"]
        label = f"{size:,}-event batch"
        rows.append(
            Row(
                section,
                f"TikTok requests per invocation (per event), {label}",
                f"{counts['tiktok_requests'] / counts['invocations']:g} "
                f"({counts['tiktok_requests'] / max(1, counts['forwarded']):.4g})",
                f"{math.ceil(size / MAX_EVENTS_PER_REQUEST)} (1 per <= 1,000 events)",
                check(
                    counts["tiktok_requests"] == expected
                    and counts["forwarded"] == counts["invocations"] * size
                ),
            )
        )
    rows.append(
        Row(
            section,
            "TikTok requests seen by the sandbox / counted by the handler",
            f"{len(recorded)} / {total_requests}",
            "equal",
            check(len(recorded) == total_requests),
        )
    )
    rows.append(
        Row(
            section,
            "TCP connections opened",
            str(connections),
            "1 per warm container",
            check(connections == 1),
        )
    )
    return rows, {
        "per_size": result["per_size"],
        "connections": connections,
        "sandbox_requests": len(recorded),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this JSON file")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--cold-runs", type=int, default=11, help="fresh interpreters per cold-start figure")
    parser.add_argument("--invocations", type=int, default=250, help="timed warm invocations per batch size")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    host = machine()
    rows: list[Row] = []
    raw: dict[str, Any] = {"machine": host.lines()}
    with LocalStack() as stack:
        steps: dict[str, Callable[[], tuple[list[Row], dict[str, Any]]]] = {
            "mapping": lambda: _mapping(stack),
            "latency": lambda: _merge(
                _latency(stack, "untraced", args.invocations), _latency(stack, "deployed", args.invocations)
            ),
            "cold": lambda: _cold(stack, args.cold_runs),
            "memory": lambda: _memory(stack),
            "network": lambda: _network(stack),
        }
        for name in SECTIONS:
            if name not in only:
                continue
            step_started = time.perf_counter()
            _progress(f"bench: {name}...")
            section_rows, raw[name] = steps[name]()
            rows += section_rows
            _progress(f"bench: {name} done in {time.perf_counter() - step_started:.0f} s")
        xray_datagrams = stack.xray.datagrams if stack.xray else 0
    seconds = time.perf_counter() - started
    raw["xray_datagrams"] = xray_datagrams
    raw["seconds"] = seconds

    print("\n".join(host.lines()))
    print(text_table(rows))
    missed = [row for row in rows if row.status == "fail"]
    print(
        f"\n{len(missed)} of {sum(1 for row in rows if row.status != 'info')} targets missed; "
        f"{seconds:.0f} s; X-Ray segments received in deployed mode: {xray_datagrams}"
    )
    if not args.no_write:
        write_benchmarks(ROOT / "BENCHMARKS.md", host, rows, NOTES, seconds)
        print("wrote BENCHMARKS.md")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


def _merge(*parts: tuple[list[Row], dict[str, Any]]) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    for part_rows, part_raw in parts:
        rows += part_rows
        raw[part_rows[0].section] = part_raw
    return rows, raw


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: measure the connector on this machine, print each figure against its target, and
record the run in BENCHMARKS.md.

    .venv/bin/python -m bench.run [--no-write] [--json PATH] [--only mapping,latency,cold,memory,network]
"""

import argparse
import json
import math
import os
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

SECTIONS = ("mapping", "handler", "cold", "memory", "network", "package")
MAX_EVENTS_PER_REQUEST = 1000
HANDLER_SIZES = (1, 5, 100, 1000)
# Targets for the whole warm handler against the floor (untraced): aim, and the limit not to pass.
HANDLER_TARGETS = {1000: (1.5, 2.0), 100: (2.0, 3.0)}
OVERHEAD_TARGET_MS = 0.5
IMPORT_TARGET_RATIO = 1.2
SHARED_MACHINE = (
    "the machine is shared with other engineers' test runs: wall times, above all of the 1,000-event "
    "batches, move by 10-50 % between runs; CPU times much less"
)

NOTES = [
    "Workload: one mParticle Webhook batch (one user) of N `commerce_event`s, each with two products, the "
    "three identities (email, customer id, mobile number), `TikTok.URL`/`Referrer`/`Callback` flags, a "
    "mix of the five native product actions; compact JSON, ~1.1 KB per event (`bench/workload.py`).",
    "Floor (`bench/floor.py`): parse with orjson, pick the three identities, three SHA-256, build the "
    "TikTok event dicts in a plain loop, serialise with orjson: the least work that produces the same "
    "TikTok events as the project (checked each run), with no validation, logs, metrics or HTTP. The "
    "standard-library `json` floor is shown for information.",
    "Mapping: the project's path from the API Gateway event's body to serialised TikTok request bodies "
    "(`request_body`, `parse_webhook_body`, `map_batches` with the demo's settings and custom mappings, "
    "`build_requests`, `encode_request_body`) against the floor, in this process. Median of 7 "
    "interleaved repeats, µs per event. Information: the targets apply to the whole handler.",
    "Whole warm handler: a fresh interpreter imports the handler and invokes it in-process (API Gateway "
    "HTTP API event, fake Lambda context) against a fake TikTok that answers at once over loopback "
    "(`bench/instant_tiktok.py`: reads the request, answers code 0 without looking at the body). Each "
    "round runs the handler, a bare keep-alive `http.client` POST of the same TikTok body to the same "
    "server (the round trip) and the floor on the same body, in the same process, so that the "
    "machine's load moves all three alike. Warm-up rounds, then p50 over the timed rounds; µs per event "
    "= p50 / events; ratio = handler p50 / floor p50; overhead = handler p50 - round trip p50. CPU is "
    "the handler thread's CPU time per invocation (median).",
    "Modes: `untraced` sets POWERTOOLS_TRACE_DISABLED as the tests do (the targets apply to it); "
    "`deployed` sets what Lambda sets (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, _X_AMZN_TRACE_ID per "
    "invocation) so Powertools loads the X-Ray SDK, patches the libraries and emits segments over UDP to "
    "a local sink; logs at INFO to /dev/null.",
    "Cold start: `python -P bench/child.py` in a fresh interpreter times the import of "
    "`tiktok_connector.entrypoints.api` (wall and CPU), then the first invocation against the TikTok "
    "sandbox: settings, the secret from the moto server (Powertools parameters and boto3 imported, the "
    "Secrets Manager client, GetSecretValue), the connection pool and first TCP connection, the POST; "
    "the secret read and the POST are timed by wrappers around `secret_store.prepare_provider` (the "
    "client with the imports it needs), the secret read and `tiktok_client._post`. Baseline `import "
    "boto3, requests` likewise. Interleaved rounds after one discarded warm-up round; medians. The "
    "import/baseline ratio alone flatters an import that leaves work to the first invocation: the "
    "import + first invocation row is the whole cold start.",
    "Memory: peak RSS (VmHWM) of a fresh interpreter (deployed mode) after one invocation with the body "
    "(largest batch of whole events that fits in http_edge.MAX_BODY_BYTES = 5 MiB, and 1,000 events).",
    "Network: one fresh container against the TikTok sandbox, 1 cold + 100 warm invocations (single "
    "events, then one batch each of 100, 1,000 and 2,500 events); TikTok requests counted from the "
    "answers and by the sandbox, TCP connections by the sandbox.",
    "Package: the distributions `requirements.txt` pulls in, as installed here, from their installed-"
    "files records without `__pycache__` (`bench/package_size.py`; `--lambda-platform` installs them "
    "for arm64 Lambda with pip and also reports the zipped size).",
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
    section = f"Mapping only (µs per event; project serialises with {encoder}; floor with orjson)"
    rows = []
    for figure in figures:
        label = f"{figure.events:,} event{'s' if figure.events > 1 else ''}"
        rows.append(Row(section, f"project, {label}", f"{figure.project_us:.1f} µs"))
        rows.append(Row(section, f"floor (orjson), {label}", f"{figure.floor_us:.1f} µs"))
        rows.append(
            Row(section, f"floor with json (information), {label}", f"{figure.floor_stdlib_us:.1f} µs")
        )
        if not figure.same_output:
            rows.append(Row(section, f"floor output = project output, {label}", "differs", "equal", "fail"))
        rows.append(Row(section, f"ratio project / floor, {label}", f"{figure.ratio:.2f}x"))
    raw = {
        "project_serialiser": encoder,
        "figures": [
            {
                "events": f.events,
                "project_us": f.project_us,
                "floor_us": f.floor_us,
                "floor_stdlib_us": f.floor_stdlib_us,
                "ratio": f.ratio,
                "same_output": f.same_output,
            }
            for f in figures
        ],
    }
    return rows, raw


def _handler_options(stack: LocalStack, invocations: int) -> dict[str, Any]:
    loads, dumps = floor.orjson_codec()
    options: dict[str, Any] = {
        "url": stack.instant.track_url,
        "token": demo.ACCESS_TOKEN,
        "pixel": demo.PIXEL_ID,
        "sizes": ",".join(map(str, HANDLER_SIZES)),
    }
    for events in HANDLER_SIZES:
        body = workload.batch_body(events)
        options[f"body{events}"] = stack.write(f"handler-{events}.json", body)
        tiktok = [part.decode("utf-8") for part in floor.floor_requests(body, demo.PIXEL_ID, loads, dumps)]
        options[f"tiktok{events}"] = stack.write(f"handler-tiktok-{events}.json", json.dumps(tiktok))
        # Fewer rounds for the large batches: each round is longer and their p50 settles sooner.
        options[f"n{events}"] = {1: invocations, 5: invocations, 100: invocations // 2}.get(
            events, max(30, invocations // 6)
        )
        options[f"warmup{events}"] = 20 if events < 1000 else 5
    return options


def _handler(stack: LocalStack, mode: Mode, invocations: int) -> tuple[list[Row], dict[str, Any]]:
    options = _handler_options(stack, invocations)
    result = stack.run_child("latency", mode, tiktok_url=stack.instant.track_url, **options)
    targets = mode == "untraced"
    section = f"Whole warm handler, {mode} (fake TikTok answering at once; p50 of the timed rounds)"
    rows: list[Row] = []
    raw: dict[str, Any] = {"tracing_loaded": result["tracing_loaded"]}
    for events in HANDLER_SIZES:
        samples = result["sizes"][str(events)]
        handler, bare, floor_ms = samples["handler_ms"], samples["bare_ms"], samples["floor_ms"]
        p50, p99 = _percentile(handler, 0.5), _percentile(handler, 0.99)
        bare50, floor50 = _percentile(bare, 0.5), _percentile(floor_ms, 0.5)
        cpu = statistics.median(samples["cpu_ms"])
        floor_cpu = statistics.median(samples["floor_cpu_ms"])
        label = f"{events:,} event{'s' if events > 1 else ''} ({len(handler)} rounds)"
        ratio, cpu_ratio = p50 / floor50, cpu / floor_cpu
        rows.append(
            Row(
                section,
                f"handler, {label}",
                f"{p50 * 1000 / events:.1f} µs/event (p50 {p50:.2f} ms, p99 {p99:.2f} ms, CPU {cpu:.2f} ms)",
            )
        )
        rows.append(
            Row(
                section,
                f"floor (orjson) / bare round trip, {events:,}",
                f"{floor50 * 1000 / events:.1f} µs/event / {bare50:.2f} ms",
            )
        )
        if events in HANDLER_TARGETS:
            aim, limit = HANDLER_TARGETS[events]
            within = "within" if ratio <= limit else "beyond"
            rows.append(
                Row(
                    section,
                    f"ratio handler / floor, {events:,} events",
                    f"{ratio:.2f}x, {within} {limit:g}x (CPU {cpu_ratio:.2f}x)",
                    f"<= {aim:g}x; no worse than {limit:g}x" if targets else "",
                    check(ratio <= aim) if targets else "info",
                )
            )
        if events == 1:
            overhead = p50 - bare50
            rows.append(
                Row(
                    section,
                    "overhead beyond the round trip, 1 event (p50)",
                    f"{overhead:.2f} ms",
                    f"<= {OVERHEAD_TARGET_MS:g} ms" if targets else "",
                    check(overhead <= OVERHEAD_TARGET_MS) if targets else "info",
                )
            )
        raw[str(events)] = {
            "p50": p50,
            "p99": p99,
            "bare_p50": bare50,
            "floor_p50": floor50,
            "ratio": ratio,
            "cpu_ratio": cpu_ratio,
            "cpu_median": cpu,
            "floor_cpu_median": floor_cpu,
            "us_per_event": p50 * 1000 / events,
            "floor_us_per_event": floor50 * 1000 / events,
            "rounds": len(handler),
        }
    return rows, raw


def _cold(stack: LocalStack, runs: int) -> tuple[list[Row], dict[str, Any]]:
    body = stack.write("cold-1.json", workload.batch_body(1))
    samples: dict[str, list[dict[str, Any]]] = {"baseline": [], "untraced": [], "deployed": []}
    for round_index in range(runs + 1):
        baseline = stack.run_child("baseline", "untraced")
        untraced = stack.run_child("cold", "untraced", body=body, breakdown=1)
        deployed = stack.run_child("cold", "deployed", body=body, breakdown=1)
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
        client, secret, tiktok = (
            median(mode, "secret_client_ms"),
            median(mode, "secret_get_ms"),
            median(mode, "tiktok_ms"),
        )
        first_cpu = median(mode, "first_invocation_cpu_ms")
        rest = statistics.median(
            sample["first_invocation_ms"]
            - sample["secret_client_ms"]
            - sample["secret_get_ms"]
            - sample["tiktok_ms"]
            for sample in samples[mode]
        )
        ratio = imported / base
        rows.append(
            Row(
                section,
                f"import handler, {mode}",
                f"{imported:.0f} ms (CPU {median(mode, 'import_cpu_ms'):.0f} ms)",
            )
        )
        rows.append(
            Row(
                section,
                f"import handler / baseline, {mode}",
                f"{ratio:.2f}x",
                f"<= {IMPORT_TARGET_RATIO:g}x",
                check(ratio <= IMPORT_TARGET_RATIO),
            )
        )
        rows.append(
            Row(
                section,
                f"first invocation, {mode}",
                f"{first:.0f} ms (Secrets Manager client with its imports {client:.0f}, "
                f"GetSecretValue {secret:.0f}, "
                f"TikTok POST {tiktok:.0f}, rest {rest:.0f}; CPU {first_cpu:.0f} ms)",
            )
        )
        rows.append(
            Row(section, f"cold start, import + first invocation, {mode}", f"{imported + first:.0f} ms")
        )
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
        rows.append(
            Row(
                section,
                f"of boto3, requests, phonenumbers, the X-Ray SDK: loaded by the import, {mode}",
                ", ".join(
                    name
                    for name in ("boto3", "requests", "phonenumbers", "aws_xray_sdk.core")
                    if name in loaded
                )
                or "none",
            )
        )
        raw[mode] = {
            "import_ms": imported,
            "import_cpu_ms": median(mode, "import_cpu_ms"),
            "ratio": ratio,
            "first_invocation_ms": first,
            "first_invocation_cpu_ms": median(mode, "first_invocation_cpu_ms"),
            "secret_client_ms": client,
            "secret_get_ms": secret,
            "tiktok_ms": tiktok,
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


def _package() -> tuple[list[Row], dict[str, Any]]:
    from bench.package_size import MB, installed_footprint

    packages = installed_footprint()
    total = sum(package.bytes for package in packages)
    section = "What the function ships (runtime dependencies, unzipped, without __pycache__)"
    rows = [Row(section, f"total, {len(packages)} distributions", f"{total / MB:.1f} MB")]
    rows += [
        Row(section, f"{package.name} {package.version}", f"{package.bytes / MB:.2f} MB")
        for package in packages
        if package.bytes >= 0.3 * MB
    ]
    raw = {"total_bytes": total, "packages": [_package_dict(package) for package in packages]}
    return rows, raw


def _package_dict(package: Any) -> dict[str, Any]:
    return {"name": package.name, "version": package.version, "bytes": package.bytes, "files": package.files}


def _cost(stack: LocalStack, raw: dict[str, Any]) -> list[str]:
    """The cost model's Markdown, from this run's deployed-mode CPU times (empty if not measured)."""
    from bench import cost_model
    from bench.mapping_bench import dead_letter_bytes

    handler = raw.get("handler", {}).get("deployed")
    if not handler:
        return []
    environ = stack.connector_environment()
    workloads = []
    for events in (1, 5, 100):
        body = workload.batch_body(events)
        workloads.append(
            cost_model.Workload(
                events=events,
                cpu_ms=handler[str(events)]["cpu_median"],
                body_bytes=len(body.encode("utf-8")),
                dead_letter_bytes=dead_letter_bytes(environ, body),
            )
        )
    cold_raw = raw.get("cold", {}).get("deployed")
    cold = (
        cost_model.ColdStart(
            import_cpu_ms=cold_raw["import_cpu_ms"],
            first_invocation_extra_cpu_ms=max(
                0.0, cold_raw["first_invocation_cpu_ms"] - handler["1"]["cpu_median"]
            ),
        )
        if cold_raw
        else None
    )
    memory = raw.get("memory", {})
    peaks = [figure["peak_mb"] for label, figure in memory.items() if label.startswith("5 MiB")]
    note = "this machine's core taken as one Lambda vCPU; " + SHARED_MACHINE
    return cost_model.markdown(workloads, cold, peaks[0] if peaks else None, note)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this JSON file")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--cold-runs", type=int, default=11, help="fresh interpreters per cold-start figure")
    parser.add_argument(
        "--invocations", type=int, default=300, help="timed warm rounds for 1 and 5 events (fewer above)"
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    host = machine()
    rows: list[Row] = []
    raw: dict[str, Any] = {"machine": host.lines()}
    with LocalStack() as stack:
        steps: dict[str, Callable[[], tuple[list[Row], dict[str, Any]]]] = {
            "mapping": lambda: _mapping(stack),
            "handler": lambda: _by_mode(
                untraced=_handler(stack, "untraced", args.invocations),
                deployed=_handler(stack, "deployed", args.invocations),
            ),
            "cold": lambda: _cold(stack, args.cold_runs),
            "memory": lambda: _memory(stack),
            "network": lambda: _network(stack),
            "package": _package,
        }
        for name in SECTIONS:
            if name not in only:
                continue
            step_started = time.perf_counter()
            _progress(f"bench: {name}...")
            section_rows, raw[name] = steps[name]()
            rows += section_rows
            _progress(f"bench: {name} done in {time.perf_counter() - step_started:.0f} s")
        cost = _cost(stack, raw)
        xray_datagrams = stack.xray.datagrams if stack.xray else 0
    seconds = time.perf_counter() - started
    conditions = (
        f"{SHARED_MACHINE}; load average {load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the "
        f"end of this run, on {os.cpu_count()} cores"
    )
    raw["conditions"] = conditions
    raw["xray_datagrams"] = xray_datagrams
    raw["seconds"] = seconds

    print("\n".join(host.lines()))
    print(f"- Conditions: {conditions}")
    print(text_table(rows))
    if cost:
        print("\n" + "\n".join(cost))
    missed = [row for row in rows if row.status == "fail"]
    print(
        f"\n{len(missed)} of {sum(1 for row in rows if row.status != 'info')} targets missed; "
        f"{seconds:.0f} s; X-Ray segments received in deployed mode: {xray_datagrams}"
    )
    if not args.no_write:
        write_benchmarks(ROOT / "BENCHMARKS.md", host, rows, NOTES, seconds, extra=cost, context=conditions)
        print("wrote BENCHMARKS.md")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


def _by_mode(**parts: tuple[list[Row], dict[str, Any]]) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    for mode, (part_rows, part_raw) in parts.items():
        rows += part_rows
        raw[mode] = part_raw
    return rows, raw


if __name__ == "__main__":
    sys.exit(main())

"""One measurement in a fresh interpreter, run by `bench.run` as `python -P bench/child.py KIND key=value...`.

A fresh process is a cold Lambda container: nothing imported, no cached settings, secret, clients or
connections. Before the import being timed this file uses only modules every interpreter has loaded at
start-up (`sys`, `os`, `time`), so the measurement is not flattered by imports of its own. Results go
to the JSON file named by `out=`; stdout is the function's log stream (the parent discards it).
"""

from __future__ import annotations

import os
import sys
import time

# `typing` and `collections.abc` are not loaded at start-up: import them for the type checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _options(argv: list[str]) -> dict[str, str]:
    return dict(arg.split("=", 1) for arg in argv)


def _new_trace_id() -> None:
    """What the Lambda runtime sets before each invocation when active tracing is on."""
    if os.environ.get("LAMBDA_TASK_ROOT"):
        stamp = f"{int(time.time()):08x}"
        os.environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{stamp}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=1"
        )


def _invoker(handler: Handler, authorization: str) -> Callable[[str], dict[str, Any]]:
    """Call the handler with an API Gateway event for `body`; returns the parsed 200 answer.

    `authorization` comes from the parent (`devstack.demo` would import boto3 here, before the first
    invocation, which would then look cheaper than it is).
    """
    import json

    from devstack.lambda_runtime import LocalLambdaContext, http_api_event

    def invoke(body: str) -> dict[str, Any]:
        event = http_api_event(body, headers={"authorization": authorization})
        _new_trace_id()
        response = handler(event, LocalLambdaContext())
        answer: dict[str, Any] = json.loads(response["body"])
        if response["statusCode"] != 200:
            raise RuntimeError(f"handler answered {response['statusCode']}: {answer.get('error')}")
        return answer

    return invoke


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def _write(path: str, result: Mapping[str, object]) -> None:
    import json

    with open(path, "w", encoding="utf-8") as file:
        json.dump(result, file)


def _loaded(*names: str) -> list[str]:
    return [name for name in names if name in sys.modules]


_NOTABLE = (
    "boto3",
    "botocore.session",
    "requests",
    "aws_xray_sdk.core",
    "phonenumbers",
    "pydantic",
    "jmespath",
    "orjson",
)


def baseline(options: dict[str, str]) -> None:
    """The reference cold import: the two libraries any such function needs."""
    started = time.perf_counter()
    import boto3  # noqa: F401
    import requests  # noqa: F401

    import_ms = (time.perf_counter() - started) * 1000
    _write(options["out"], {"import_ms": import_ms, "modules": len(sys.modules)})


def _timed_calls() -> dict[str, float]:
    """Wrap the first invocation's remote calls where the handler calls them (nothing is imported here).

    `secret_client_ms`: `secret_store.prepare_provider`, which imports Powertools parameters and boto3
    and creates the Secrets Manager client; `secret_get_ms`: the rest of reading the secret (the
    GetSecretValue call through the provider); `tiktok_ms`: `tiktok_client._post`, the TikTok POST (the
    first TCP connection included).
    """
    import functools

    from tiktok_connector.delivery import tiktok_client
    from tiktok_connector.platform import secret_store
    from tiktok_connector.routes import authentication

    spent = {"secret_client_ms": 0.0, "secret_get_ms": 0.0, "tiktok_ms": 0.0}

    def timed(owner: Any, name: str, key: str, *, less: str | None = None) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            before = spent[less] if less else 0.0
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                inner = (spent[less] - before) if less else 0.0
                spent[key] += (time.perf_counter() - started) * 1000 - inner

        setattr(owner, name, wrapper)

    timed(secret_store, "prepare_provider", "secret_client_ms")
    timed(authentication, "get_connector_secret", "secret_get_ms", less="secret_client_ms")
    timed(tiktok_client, "_post", "tiktok_ms")
    return spent


def cold(options: dict[str, str]) -> None:
    """Import the handler module, then the first invocation (settings, secret, clients, connection)."""
    started = time.perf_counter()
    started_cpu = time.process_time()
    from tiktok_connector.entrypoints.api import lambda_handler

    import_ms = (time.perf_counter() - started) * 1000
    import_cpu_ms = (time.process_time() - started_cpu) * 1000
    modules_after_import = len(sys.modules)
    loaded_at_import = _loaded(*_NOTABLE)
    invoke = _invoker(lambda_handler, options["authorization"])
    body = _read(options["body"])
    spent = _timed_calls() if options.get("breakdown") == "1" else {}
    started = time.perf_counter()
    started_cpu = time.process_time()
    answer = invoke(body)
    first_ms = (time.perf_counter() - started) * 1000
    first_cpu_ms = (time.process_time() - started_cpu) * 1000
    _write(
        options["out"],
        {
            "import_ms": import_ms,
            "import_cpu_ms": import_cpu_ms,
            "first_invocation_ms": first_ms,
            "first_invocation_cpu_ms": first_cpu_ms,
            **spent,
            "modules": modules_after_import,
            "loaded_at_import": loaded_at_import,
            "loaded_after_invocation": _loaded(*_NOTABLE),
            # Only the failure path writes dead letters: its SQS client should not exist yet.
            "sqs_client_created": getattr(
                sys.modules.get("tiktok_connector.delivery.dead_letters"), "_sqs", None
            )
            is not None,
            "forwarded": answer.get("forwarded"),
        },
    )


def _peak_rss_kib() -> int:
    """This process's peak resident set size, KiB.

    `ru_maxrss` is not used: Linux keeps it across `execve`, and `subprocess` starts children with
    vfork, so a child inherits the benchmark's own (larger) peak. VmHWM belongs to the new image.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss(options: dict[str, str]) -> None:
    """Peak resident set size of a container that imported the handler and served one body."""
    from tiktok_connector.entrypoints.api import lambda_handler

    after_import_kib = _peak_rss_kib()
    invoke = _invoker(lambda_handler, options["authorization"])
    answer = invoke(_read(options["body"]))
    peak_kib = _peak_rss_kib()
    _write(
        options["out"],
        {
            "after_import_mb": after_import_kib / 1024,
            "peak_mb": peak_kib / 1024,
            "received": answer.get("received"),
            "forwarded": answer.get("forwarded"),
            "tiktok_requests": answer.get("tiktok_requests"),
        },
    )


def latency(options: dict[str, str]) -> None:
    """The whole warm handler against a fake TikTok that answers at once, beside two references.

    Each timed round, per batch size: one handler invocation (wall and thread CPU time), one bare
    keep-alive `http.client` POST of the same TikTok body to the same server (the round trip any
    client pays), and one run of the floor (`bench/floor.py`, orjson) on the same body, in this
    process, so that the machine's load moves all three alike.
    """
    import http.client
    import json
    from urllib.parse import urlsplit

    from bench import floor
    from tiktok_connector.entrypoints.api import lambda_handler

    invoke = _invoker(lambda_handler, options["authorization"])
    url = urlsplit(options["url"])
    assert url.hostname is not None
    connection = http.client.HTTPConnection(url.hostname, url.port)
    headers = {"Access-Token": options["token"], "Content-Type": "application/json"}
    loads, dumps = floor.orjson_codec()
    pixel_id = options["pixel"]

    def bare(body: bytes) -> None:
        connection.request("POST", url.path, body=body, headers=headers)
        answer = json.loads(connection.getresponse().read())
        if answer.get("code") != 0:
            raise RuntimeError(f"the fake TikTok refused the bare request: {answer.get('message')}")

    results: dict[str, dict[str, list[float]]] = {}
    for size in options["sizes"].split(","):
        invocations, warmup = int(options[f"n{size}"]), int(options[f"warmup{size}"])
        body = _read(options[f"body{size}"])
        tiktok_bodies = [part.encode("utf-8") for part in json.loads(_read(options[f"tiktok{size}"]))]
        samples: dict[str, list[float]] = {
            "handler_ms": [],
            "cpu_ms": [],
            "bare_ms": [],
            "floor_ms": [],
            "floor_cpu_ms": [],
        }
        for index in range(warmup + invocations):
            started_cpu = time.thread_time()
            started = time.perf_counter()
            answer = invoke(body)
            elapsed = time.perf_counter() - started
            elapsed_cpu = time.thread_time() - started_cpu
            if answer.get("forwarded") != int(size):
                raise RuntimeError(f"expected {size} events forwarded, got {answer}")
            started_bare = time.perf_counter()
            for tiktok_body in tiktok_bodies:
                bare(tiktok_body)
            elapsed_bare = time.perf_counter() - started_bare
            started_floor_cpu = time.thread_time()
            started_floor = time.perf_counter()
            floor.floor_requests(body, pixel_id, loads, dumps)
            elapsed_floor = time.perf_counter() - started_floor
            elapsed_floor_cpu = time.thread_time() - started_floor_cpu
            if index >= warmup:
                samples["handler_ms"].append(elapsed * 1000)
                samples["cpu_ms"].append(elapsed_cpu * 1000)
                samples["bare_ms"].append(elapsed_bare * 1000)
                samples["floor_ms"].append(elapsed_floor * 1000)
                samples["floor_cpu_ms"].append(elapsed_floor_cpu * 1000)
        results[size] = samples
    connection.close()
    _write(options["out"], {"sizes": results, "tracing_loaded": "aws_xray_sdk.core" in sys.modules})


def network(options: dict[str, str]) -> None:
    """One cold and 100 warm invocations of one container; TikTok requests per batch size."""
    from tiktok_connector.entrypoints.api import lambda_handler

    invoke = _invoker(lambda_handler, options["authorization"])
    sizes = [int(size) for size in options["sizes"].split(",")]
    bodies = {size: _read(options[f"body{size}"]) for size in sizes}
    warm = int(options["warm"])
    # Mostly single events, ending with each larger size once: every answer counts its TikTok requests.
    schedule = [sizes[0]] * (1 + warm - (len(sizes) - 1)) + sizes[1:]
    per_size: dict[int, dict[str, int]] = {}
    for size in schedule:
        answer = invoke(bodies[size])
        counts = per_size.setdefault(size, {"invocations": 0, "forwarded": 0, "tiktok_requests": 0})
        counts["invocations"] += 1
        counts["forwarded"] += int(answer.get("forwarded", 0))
        counts["tiktok_requests"] += int(answer.get("tiktok_requests", 0))
    _write(
        options["out"], {"invocations": len(schedule), "per_size": {str(k): v for k, v in per_size.items()}}
    )


def profile(options: dict[str, str]) -> None:
    """cProfile of warm invocations; the stats go to `stats=` for `bench.profile` to print.

    The profiler's clock is the thread's CPU time, so that other processes on a shared machine do not
    show up as time spent in whichever function was running when this one was descheduled.
    """
    import cProfile

    from tiktok_connector.entrypoints.api import lambda_handler

    invoke = _invoker(lambda_handler, options["authorization"])
    body = _read(options["body"])
    for _ in range(20):
        invoke(body)
    profiler = cProfile.Profile(time.thread_time)
    for _ in range(int(options["n"])):
        profiler.enable()
        invoke(body)
        profiler.disable()
    profiler.dump_stats(options["stats"])
    _write(options["out"], {})


# Where the Webhook route spends its time: (module, function, stage) in call order. Each function is
# replaced, in the module that calls it, by a wrapper that adds its CPU and wall time to the stage.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("tiktok_connector.entrypoints.api", "route", "route (all below)"),
    ("tiktok_connector.routes.webhook", "get_settings", "settings (cached)"),
    ("tiktok_connector.routes.webhook", "authenticate", "authenticate (secret cache + compare)"),
    ("tiktok_connector.routes.webhook", "request_body", "request_body (API Gateway body)"),
    ("tiktok_connector.routes.webhook", "parse_webhook_body", "parse_webhook_body (JSON + model)"),
    ("tiktok_connector.routes.webhook", "process_batches", "process_batches (with its tracer decorator)"),
    ("tiktok_connector.routes.pipeline", "map_batches", "  map_batches"),
    ("tiktok_connector.mapping.mapper", "_requests", "  build_requests (MappingResult.requests)"),
    ("tiktok_connector.routes.pipeline", "deliver", "  deliver (all below)"),
    ("tiktok_connector.delivery.deliver", "encode_request_body", "    encode_request_body"),
    ("tiktok_connector.delivery.deliver", "post_request", "    post_request (HTTP + the wait)"),
    ("tiktok_connector.routes.pipeline", "_record", "  _record (metrics + INFO log line)"),
    ("tiktok_connector.routes.webhook", "pipeline_response", "pipeline_response (answer JSON)"),
)


def stages(options: dict[str, str]) -> None:
    """CPU and wall time per stage of warm invocations (see STAGES), per batch size; µs per invocation."""
    import importlib

    from tiktok_connector.entrypoints.api import lambda_handler

    spent: dict[str, list[float]] = {}

    def wrap(module_name: str, name: str, stage: str) -> None:
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals = spent.setdefault(stage, [0.0, 0.0])
                totals[0] += time.thread_time() - cpu
                totals[1] += time.perf_counter() - wall

        setattr(module, name, wrapper)

    for module_name, name, stage in STAGES:
        wrap(module_name, name, stage)
    invoke = _invoker(lambda_handler, options["authorization"])
    results: dict[str, dict[str, list[float]]] = {}
    for size in options["sizes"].split(","):
        body = _read(options[f"body{size}"])
        invocations = int(options[f"n{size}"])
        for _ in range(10):
            invoke(body)
        spent.clear()
        cpu, wall = time.thread_time(), time.perf_counter()
        for _ in range(invocations):
            invoke(body)
        spent["whole invocation (handler + decorators)"] = [
            time.thread_time() - cpu,
            time.perf_counter() - wall,
        ]
        results[size] = {stage: [v / invocations * 1e6 for v in totals] for stage, totals in spent.items()}
    _write(options["out"], {"stages": results, "order": [stage for _, _, stage in STAGES]})


KINDS: dict[str, Callable[[dict[str, str]], None]] = {
    "baseline": baseline,
    "cold": cold,
    "rss": rss,
    "latency": latency,
    "network": network,
    "profile": profile,
    "stages": stages,
}

if __name__ == "__main__":
    KINDS[sys.argv[1]](_options(sys.argv[2:]))

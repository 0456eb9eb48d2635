"""Profile what `make bench` measures, to find where a missed target goes.

    .venv/bin/python -m bench.profile warm    [--mode untraced|deployed] [--size 1] [--invocations 500]
    .venv/bin/python -m bench.profile stages  [--mode untraced|deployed] [--size N] [--invocations 500]
    .venv/bin/python -m bench.profile mapping [--size 1000]
    .venv/bin/python -m bench.profile import  [--mode untraced|deployed]

`warm` and `mapping` print cProfile's top functions (own time and cumulative) and the own time summed
by module (the project's modules by name, libraries by top-level package); `warm` invokes the whole
handler against the fake TikTok that answers at once. `import` runs the cold child under
`-X importtime` and prints the import time the handler adds to the `boto3, requests` baseline, by
top-level package and by module.
"""

import argparse
import collections
import cProfile
import io
import pstats
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import ROOT, workload
from bench.stack import CHILD_SCRIPT, LocalStack, Mode
from devstack import demo


def _module_of(filename: str) -> str:
    """`tiktok_connector.mapping.mapper`, a library's top-level package, or `builtins`/`stdlib`."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C functions)"
    path = Path(filename)
    parts = path.with_suffix("").parts
    if "tiktok_connector" in parts:
        return ".".join(parts[parts.index("tiktok_connector") :])
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if "bench" in parts or "devstack" in parts:
        return "benchmark harness"
    return "stdlib " + path.stem


def _print_by_module(source: cProfile.Profile | str, limit: int, calls: int) -> None:
    stats = pstats.Stats(source)
    own: collections.Counter[str] = collections.Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        own[_module_of(filename)] += tottime
    total = sum(own.values())
    print(f"=== own time by module (µs per invocation; total {total / calls * 1e6:.0f} µs) ===")
    for module, seconds in own.most_common(limit):
        print(f"  {seconds / calls * 1e6:8.1f} µs  {seconds / total:5.1%}  {module}")
    print()


def _print_stats(source: cProfile.Profile | str, limit: int, calls: int = 1) -> None:
    for key in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(source, stream=stream)
        stats.strip_dirs().sort_stats(key).print_stats(limit)
        print(f"=== by {key} ===")
        print(stream.getvalue().split("\n", 4)[-1])
    _print_by_module(source, limit, calls)


def profile_warm(mode: Mode, size: int, invocations: int, limit: int) -> None:
    """cProfile (CPU clock) of warm invocations in a fresh container, against the instant fake TikTok."""
    with LocalStack() as stack:
        body = stack.write("profile-body.json", workload.batch_body(size))
        stats_path = stack.workdir / "profile.stats"
        stack.run_child(
            "profile",
            mode,
            tiktok_url=stack.instant.track_url,
            body=body,
            n=invocations,
            stats=stats_path,
        )
        print(
            f"warm invocations: {invocations} x {size} event(s), {mode}, cProfile on the thread's CPU clock"
        )
        _print_stats(str(stats_path), limit, invocations)
        stats_path.unlink()


def profile_stages(mode: Mode, sizes: Sequence[int], invocations: int) -> None:
    """CPU and wall µs per invocation spent in each stage of the Webhook route (`child.STAGES`)."""
    with LocalStack() as stack:
        options: dict[str, Any] = {"sizes": ",".join(map(str, sizes))}
        for size in sizes:
            options[f"body{size}"] = stack.write(f"stages-{size}.json", workload.batch_body(size))
            options[f"n{size}"] = max(20, invocations // max(1, size // 20))
        result = stack.run_child("stages", mode, tiktok_url=stack.instant.track_url, **options)
    header = "".join(f"{f'{size} ev CPU / wall':>24}" for size in sizes)
    print(f"stages of a warm Webhook invocation, {mode} (µs per invocation)\n{'stage':48}{header}")
    for stage in ["whole invocation (handler + decorators)", *result["order"]]:
        cells = []
        for size in sizes:
            cpu, wall = result["stages"][str(size)].get(stage, [0.0, 0.0])
            cells.append(f"{cpu:11.0f} / {wall:10.0f}")
        print(f"{stage:48}{''.join(f'{cell:>24}' for cell in cells)}")


def profile_mapping(size: int, limit: int) -> None:
    """cProfile of the project's mapping path (body to serialised TikTok request bodies)."""
    from bench.mapping_bench import project_path
    from devstack import demo
    from devstack.lambda_runtime import http_api_event
    from devstack.local_aws import ConnectorResources

    resources = ConnectorResources(secret_arn="bench", queue_url="bench", parking_queue_url="bench")
    run = project_path(demo.connector_environment(resources, "http://127.0.0.1:9/track/"))
    raw_event = http_api_event(workload.batch_body(size))
    loops = max(1, 20_000 // size)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(loops):
        run(raw_event)
    profile.disable()
    print(f"mapping: {loops} x {size} event(s)")
    _print_stats(profile, limit, loops)


def _importtime(stack: LocalStack, kind: str, mode: Mode, options: dict[str, str]) -> dict[str, int]:
    """Own import time (µs) of every module a child imports, from `-X importtime`."""
    out = stack.workdir / "profile-import.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-P",
            "-X",
            "importtime",
            str(CHILD_SCRIPT),
            kind,
            f"out={out}",
            *(f"{key}={value}" for key, value in options.items()),
        ],
        env=stack.child_environment(mode),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    out.unlink()
    own: dict[str, int] = {}
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _, name = line.removeprefix("import time:").split("|")
            own[name.strip()] = int(self_us)
    return own


def profile_import(mode: Mode, limit: int) -> None:
    """The import time the handler adds to `import boto3, requests`, by package and by module."""
    with LocalStack() as stack:
        body = stack.write("profile-1.json", workload.batch_body(1))
        _importtime(
            stack, "cold", mode, {"body": str(body), "authorization": demo.WEBHOOK_AUTHORIZATION}
        )  # writes the .pyc files
        baseline = _importtime(stack, "baseline", mode, {})
        handler = _importtime(
            stack, "cold", mode, {"body": str(body), "authorization": demo.WEBHOOK_AUTHORIZATION}
        )
    extra = {name: us for name, us in handler.items() if name not in baseline}
    by_package: collections.Counter[str] = collections.Counter()
    for name, us in extra.items():
        by_package[name.split(".")[0]] += us
    print(f"-X importtime, {mode} (inflated by the instrumentation; compare shares, not totals)")
    print(f"baseline own time: {sum(baseline.values()) / 1000:.0f} ms in {len(baseline)} modules")
    print(f"handler adds:      {sum(extra.values()) / 1000:.0f} ms in {len(extra)} modules\n")
    print("by top-level package:")
    for package, us in by_package.most_common(limit):
        print(f"  {us / 1000:7.1f} ms  {package}")
    print("\nby module (own time):")
    for name, us in collections.Counter(extra).most_common(limit):
        print(f"  {us / 1000:7.1f} ms  {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("warm", "stages", "mapping", "import"))
    parser.add_argument("--mode", choices=("untraced", "deployed"), default="deployed")
    parser.add_argument("--size", type=int, default=None, help="events per batch")
    parser.add_argument("--invocations", type=int, default=500)
    parser.add_argument("--limit", type=int, default=30, help="rows to print")
    args = parser.parse_args(argv)
    mode: Mode = args.mode
    actions: dict[str, Callable[[], None]] = {
        "warm": lambda: profile_warm(mode, args.size or 1, args.invocations, args.limit),
        "stages": lambda: profile_stages(
            mode, (args.size,) if args.size else (1, 100, 1000), args.invocations
        ),
        "mapping": lambda: profile_mapping(args.size or 1000, args.limit),
        "import": lambda: profile_import(mode, args.limit),
    }
    actions[args.what]()
    return 0


if __name__ == "__main__":
    sys.exit(main())

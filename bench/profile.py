"""Profile what `make bench` measures, to find where a missed target goes.

    .venv/bin/python -m bench.profile warm    [--mode untraced|deployed] [--size 1] [--invocations 500]
    .venv/bin/python -m bench.profile mapping [--size 1000]
    .venv/bin/python -m bench.profile import  [--mode untraced|deployed]

`warm` and `mapping` print cProfile's top functions (own time and cumulative); `import` runs the cold
child under `-X importtime` and prints the import time the handler adds to the `boto3, requests`
baseline, by top-level package and by module.
"""

import argparse
import collections
import cProfile
import io
import pstats
import subprocess
import sys
from collections.abc import Callable, Sequence

from bench import ROOT, workload
from bench.stack import CHILD_SCRIPT, LocalStack, Mode


def _print_stats(source: cProfile.Profile | str, limit: int) -> None:
    for key in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(source, stream=stream)
        stats.strip_dirs().sort_stats(key).print_stats(limit)
        print(f"=== by {key} ===")
        print(stream.getvalue().split("\n", 4)[-1])


def profile_warm(mode: Mode, size: int, invocations: int, limit: int) -> None:
    """cProfile of warm invocations in a fresh container (the sandbox runs in this process)."""
    with LocalStack() as stack:
        body = stack.write("profile-body.json", workload.batch_body(size))
        stats_path = stack.workdir / "profile.stats"
        stack.run_child("profile", mode, body=body, n=invocations, stats=stats_path)
        print(f"warm invocations: {invocations} x {size} event(s), {mode}")
        _print_stats(str(stats_path), limit)
        stats_path.unlink()


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
    _print_stats(profile, limit)


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
        _importtime(stack, "cold", mode, {"body": str(body)})  # writes the .pyc files
        baseline = _importtime(stack, "baseline", mode, {})
        handler = _importtime(stack, "cold", mode, {"body": str(body)})
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
    parser.add_argument("what", choices=("warm", "mapping", "import"))
    parser.add_argument("--mode", choices=("untraced", "deployed"), default="deployed")
    parser.add_argument("--size", type=int, default=None, help="events per batch")
    parser.add_argument("--invocations", type=int, default=500)
    parser.add_argument("--limit", type=int, default=30, help="rows to print")
    args = parser.parse_args(argv)
    mode: Mode = args.mode
    actions: dict[str, Callable[[], None]] = {
        "warm": lambda: profile_warm(mode, args.size or 1, args.invocations, args.limit),
        "mapping": lambda: profile_mapping(args.size or 1000, args.limit),
        "import": lambda: profile_import(mode, args.limit),
    }
    actions[args.what]()
    return 0


if __name__ == "__main__":
    sys.exit(main())

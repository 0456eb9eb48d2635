"""``python -m devstack.tiktok_sandbox``: run a sandbox in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from devstack.tiktok_sandbox.protocol import CONTROL_PREFIX, DEFAULT_ACCESS_TOKEN
from devstack.tiktok_sandbox.sandbox import TikTokSandbox


def main(argv: Sequence[str] | None = None) -> int:
    """Run a sandbox in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.tiktok_sandbox",
        description="Local stand-in for TikTok's Events API 2.0 track route.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 picks a free one)")
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help=f"accepted Access-Token, repeatable (default {DEFAULT_ACCESS_TOKEN!r})",
    )
    args = parser.parse_args(argv)

    sandbox = TikTokSandbox(
        host=args.host, port=args.port, access_tokens=args.tokens or (DEFAULT_ACCESS_TOKEN,)
    )
    try:
        sandbox.start()
    except OSError as exc:
        print(
            f"tiktok_sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    # The tokens are secrets: say how many are configured, never which.
    print(f"TikTok sandbox listening on {sandbox.base_url}", flush=True)
    print(f"  track URL:   {sandbox.track_url}", flush=True)
    token_count = len(args.tokens) if args.tokens else 1
    print(f"  control API: {sandbox.base_url}{CONTROL_PREFIX} ({token_count} access token(s))", flush=True)
    try:
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop_requested.wait(timeout=0.5):
            pass
    finally:
        sandbox.stop()
    print("TikTok sandbox stopped", flush=True)
    return 0

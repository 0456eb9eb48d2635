"""The local stack every measurement runs against, and the environment of a cold container in it."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from bench import ROOT, SRC
from bench.instant_tiktok import InstantTikTok
from devstack import demo
from devstack.local_aws import MotoServer, aws_environment, create_connector_resources
from devstack.tiktok_sandbox import TikTokSandbox

Mode = Literal["untraced", "deployed"]
"""`untraced`: POWERTOOLS_TRACE_DISABLED as in the tests. `deployed`: tracing on as in Lambda."""

CHILD_SCRIPT = ROOT / "bench" / "child.py"


class XRaySink:
    """A UDP socket standing in for the X-Ray daemon: counts the segments the function emits."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.datagrams = 0
        self._thread = threading.Thread(target=self._drain, name="xray-sink", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._socket.recv(65536):
                self.datagrams += 1

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()


class LocalStack:
    """moto server (Secrets Manager, SQS), the TikTok sandbox, a fake TikTok that answers at once and
    an X-Ray sink, on loopback."""

    def __init__(self) -> None:
        self.moto = MotoServer()
        self.sandbox = TikTokSandbox(access_tokens=(demo.ACCESS_TOKEN,))
        self.instant = InstantTikTok()
        self.xray: XRaySink | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="tiktok-bench-"))
        self._environment: dict[str, str] = {}

    def __enter__(self) -> Self:
        self.moto.start()
        self.sandbox.start()
        self.instant.start()
        self.xray = XRaySink()
        resources = create_connector_resources(
            self.moto.url, secret=demo.SECRET, name="tiktok-connector-bench"
        )
        self._environment = {
            **aws_environment(self.moto.url),
            **demo.connector_environment(resources, self.sandbox.track_url),
        }
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.sandbox.stop()
        self.instant.stop()
        self.moto.stop()
        if self.xray is not None:
            self.xray.close()
        for path in self.workdir.iterdir():
            path.unlink()
        self.workdir.rmdir()

    def connector_environment(self) -> dict[str, str]:
        """The function's environment variables (its configuration contract) pointing at this stack."""
        return dict(self._environment)

    def child_environment(self, mode: Mode, tiktok_url: str | None = None) -> dict[str, str]:
        """A cold container's environment: the function's variables, and Lambda's own in `deployed`.

        `tiktok_url` points the function at another TikTok (the instant fake) than the sandbox.
        """
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_AMZN", "PYTHON"))
        }
        env |= self._environment
        if tiktok_url is not None:
            env["TIKTOK_API_URL"] = tiktok_url
        env |= {"PYTHONPATH": os.pathsep.join((str(SRC), str(ROOT))), "POWERTOOLS_LOG_LEVEL": "INFO"}
        if mode == "deployed":
            assert self.xray is not None
            # Powertools traces only inside Lambda (LAMBDA_TASK_ROOT set): then it loads the X-Ray SDK,
            # patches boto3/requests and emits segments over UDP to the daemon address (our sink).
            env.pop("POWERTOOLS_TRACE_DISABLED", None)
            env |= {
                "LAMBDA_TASK_ROOT": str(SRC),
                "AWS_LAMBDA_FUNCTION_NAME": "tiktok-connector-bench",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "AWS_XRAY_DAEMON_ADDRESS": self.xray.address,
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
            }
        else:
            env["POWERTOOLS_TRACE_DISABLED"] = "true"
        return env

    def write(self, name: str, text: str) -> Path:
        path = self.workdir / name
        path.write_text(text, encoding="utf-8")
        return path

    def run_child(
        self,
        kind: str,
        mode: Mode,
        python_flags: tuple[str, ...] = (),
        tiktok_url: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Run `bench/child.py KIND` in a fresh interpreter; returns the JSON it wrote."""
        import json

        out = self.workdir / f"result-{kind}.json"
        options.setdefault("authorization", demo.WEBHOOK_AUTHORIZATION)
        args = [f"{key}={value}" for key, value in options.items()]
        completed = subprocess.run(
            [sys.executable, "-P", *python_flags, str(CHILD_SCRIPT), kind, f"out={out}", *args],
            env=self.child_environment(mode, tiktok_url),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,  # the function's logs and metrics
            stderr=subprocess.PIPE,
            timeout=180,
            check=False,
        )
        if completed.returncode != 0:
            tail = completed.stderr.decode("utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"bench child {kind} ({mode}) failed:\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        out.unlink()
        return result

"""A slow AWS endpoint for deadline tests: an HTTP proxy that holds each call, then forwards it to moto.

Point one service at it (e.g. `AWS_ENDPOINT_URL_SQS`) and every call of that service takes at least
`delay_s` seconds over a real socket, as a struggling SQS would; the rest of the stack stays fast.
"""

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

_HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


class SlowProxy:
    def __init__(self, target_url: str, delay_s: float) -> None:
        self.target_url = target_url.rstrip("/")
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.calls += 1
                time.sleep(proxy.delay_s)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                forwarded = urllib.request.Request(  # noqa: S310 - the moto server on loopback
                    proxy.target_url + self.path, data=body, headers=headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(forwarded, timeout=30) as answer:  # noqa: S310 - loopback
                        status, content, kind = (
                            answer.status,
                            answer.read(),
                            answer.headers.get("Content-Type"),
                        )
                except urllib.error.HTTPError as error:
                    status, content, kind = error.code, error.read(), error.headers.get("Content-Type")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind or "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:  # the client gave up waiting
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

"""A fake TikTok track route that answers at once: the least a server can do over loopback.

The TikTok sandbox (`devstack/tiktok_sandbox.py`) checks every field of every event, records the
request and speaks through `http.server`; at 1,000 events its own work is milliseconds, which would
count against the connector in a whole-handler figure. This server reads the request (headers and
the `Content-Length` body, kept-alive connections) and answers TikTok's success envelope without
looking at the body. What the connector sends is checked by the tests and by `make bench`'s network
section, which run against the sandbox.
"""

import contextlib
import socket
import socketserver
import threading
from types import TracebackType
from typing import Final, Self

TRACK_PATH: Final = "/open_api/v1.3/event/track/"
_ANSWER_BODY: Final = b'{"code":0,"message":"OK","request_id":"bench-instant","data":{}}'
_ANSWER: Final = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_ANSWER_BODY)).encode("ascii")
    + b"\r\nConnection: keep-alive\r\n\r\n"
    + _ANSWER_BODY
)


class _Handler(socketserver.StreamRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                length = None
                line = self.rfile.readline(65537)
                if not line:
                    return  # the client closed its kept-alive connection
                while line not in (b"\r\n", b"\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                    line = self.rfile.readline(65537)
                if length:
                    self.rfile.read(length)
                self.wfile.write(_ANSWER)
                self.server.count()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests = 0
        self._lock = threading.Lock()

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()

    def count(self) -> None:
        with self._lock:
            self.requests += 1


class InstantTikTok:
    """`with InstantTikTok() as fake:` serves `fake.track_url` on 127.0.0.1 in a daemon thread."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="instant-tiktok", daemon=True)

    @property
    def track_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{TRACK_PATH}"

    @property
    def requests(self) -> int:
        return self._server.requests

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

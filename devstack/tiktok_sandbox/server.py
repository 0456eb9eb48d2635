"""The HTTP side: a threaded HTTP/1.1 server whose handler answers the track route like TikTok."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from devstack.tiktok_sandbox.control import handle_control
from devstack.tiktok_sandbox.protocol import (
    CODE_INVALID_PARAMETER,
    CODE_MESSAGES,
    CODE_OK,
    CODE_TOKEN_INVALID,
    CONTROL_PREFIX,
    MAX_BODY_BYTES,
    NGINX_PHRASES,
    TRACK_PATH,
    envelope,
    parse_json,
)
from devstack.tiktok_sandbox.recorded import RecordedRequest
from devstack.tiktok_sandbox.validation import InvalidBodyError, validate_track_body

if TYPE_CHECKING:
    from devstack.tiktok_sandbox.sandbox import TikTokSandbox

_REDACTED_HEADERS: Final = frozenset({"Authorization", "Proxy-Authorization", "Cookie"})
_Record = Callable[[int | None, dict[str, Any] | None, dict[str, Any] | None], None]


def _canonical_header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


class SandboxServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP server that knows its ``TikTokSandbox``; quiet when clients hang up."""

    daemon_threads = True
    allow_reuse_address = True
    # Load tests open many connections at once; the default backlog of 5 would make clients wait.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: TikTokSandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall for seconds on
        # machines without a resolver; the sandbox only ever needs the numeric address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up (timeout, reset) is normal here; only real bugs deserve a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers track requests like TikTok and serves the ``/_sandbox/`` control API."""

    # HTTP/1.1 so a client's keep-alive connection is reused across requests, as with the real API.
    protocol_version = "HTTP/1.1"
    server_version = "TikTokSandbox/1.0"
    sys_version = ""
    # Idle keep-alive connections are closed after this many seconds (nginx's default is 75).
    timeout = 60
    server: SandboxServer

    # -- connection bookkeeping ------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the client's
        # delayed ACK add ~40 ms to every keep-alive response and would dominate any load test.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sandbox._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and the demo read the recorded requests instead of an access log."""

    # -- dispatch -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        """Handle GET (control API reads; the track route answers 405)."""
        self._dispatch()

    def do_POST(self) -> None:
        """Handle POST (the track route and control API actions)."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Handle PUT (control API settings)."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Handle DELETE (always refused, but answered cleanly)."""
        self._dispatch()

    def do_PATCH(self) -> None:
        """Handle PATCH (always refused, but answered cleanly)."""
        self._dispatch()

    def _dispatch(self) -> None:
        received_at = time.time()
        path = urlsplit(self.path).path
        if path.startswith(CONTROL_PREFIX):
            raw = self._read_body()
            if raw is not None:
                status, payload = handle_control(self.server.sandbox, self.command, path, raw)
                self._send_json(status, payload)
        else:
            self._track(path, received_at)

    # -- responses ------------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        # Always a Content-Length: without it an HTTP/1.1 client cannot reuse the connection.
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: object, extra_headers: Sequence[tuple[str, str]] = ()) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json", extra_headers)

    def _drip_json(self, payload: object, fault: dict[str, Any], ended: threading.Event) -> None:
        """Answer 200 with ``payload``, one byte per ``seconds_per_byte``, until done or interrupted."""
        real_wfile = self.wfile
        buffer = io.BytesIO()
        self.wfile = buffer
        try:
            self._send_json(200, payload)
        finally:
            self.wfile = real_wfile
        answer = buffer.getvalue()
        start = answer.index(b"\r\n\r\n") + 4 if fault["body_only"] else 0
        try:
            real_wfile.write(answer[:start])
            for offset in range(start, len(answer)):
                # The wait ends early when the sandbox stops or is reset: then the answer stays unfinished.
                if ended.wait(fault["seconds_per_byte"]):
                    self.close_connection = True
                    return
                real_wfile.write(answer[offset : offset + 1])
        except OSError:  # the client gave up waiting
            self.close_connection = True

    def _read_body(self) -> bytes | None:
        """Read the whole request body; on a framing problem answer it and return ``None``."""
        transfer_encoding = self.headers.get("Transfer-Encoding", "").strip().lower()
        if transfer_encoding:
            if transfer_encoding != "chunked":
                self.close_connection = True
                self._send_json(501, {"error": "not_implemented", "message": "Unsupported Transfer-Encoding"})
                return None
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            self.close_connection = True
            self._send_json(400, {"error": "bad_request", "message": "Invalid Content-Length"})
            return None
        if length > MAX_BODY_BYTES:
            # Not reading the body leaves the connection out of sync, so it must be closed.
            self.close_connection = True
            self._send_json(413, {"error": "payload_too_large", "message": "Request body too large"})
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self._send_json(400, {"error": "bad_request", "message": "Malformed chunked body"})
                return None
            if size == 0:
                # Skip optional trailers up to the blank line that ends the message.
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                self._send_json(413, {"error": "payload_too_large", "message": "Request body too large"})
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def _reset_connection(self) -> None:
        """Drop the connection with a TCP RST instead of answering, like a crashed upstream."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            # Linger on with a zero timeout makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile (a socket.makefile) holds a reference to the socket; the descriptor (and so the RST) only
        # goes once it is closed too. wfile writes to the socket directly and must stay open because
        # BaseHTTPRequestHandler flushes it after every request.
        self.rfile.close()
        self.connection.close()

    # -- track route ----------------------------------------------------------------------------

    def _track(self, path: str, received_at: float) -> None:
        sandbox = self.server.sandbox
        seq, generation, ended = sandbox._arrival()
        token_valid = sandbox._token_is_valid(self.headers.get("Access-Token"))
        headers = self._redacted_headers(token_valid)
        raw = self._read_body()
        if raw is None:
            return
        parsed_ok, body = parse_json(raw)

        def record(status: int | None, response: dict[str, Any] | None, fault: dict[str, Any] | None) -> None:
            # Recorded before the answer is written, so a client that has its answer sees the record.
            sandbox._record(
                seq,
                generation,
                RecordedRequest(
                    path=self.path,
                    headers=headers,
                    body=body,
                    raw_size=len(raw),
                    http_status=status,
                    response=response,
                    received_at=received_at,
                    method=self.command,
                    fault=fault,
                ),
            )

        if path != TRACK_PATH:
            payload = {
                "error": "not_found",
                "message": f"No route for {path}; the track route is {TRACK_PATH}",
            }
            record(404, payload, None)
            self._send_json(404, payload)
            return
        if self.command != "POST":
            payload = {"error": "method_not_allowed", "message": "The track route only accepts POST"}
            record(405, payload, None)
            self._send_json(405, payload, [("Allow", "POST")])
            return

        fault = sandbox._take_fault()
        kind = fault["kind"] if fault is not None else None
        if fault is not None and kind == "reset":
            record(None, None, fault)
            self._reset_connection()
            return
        if fault is not None and kind == "tiktok_code":
            payload = envelope(fault["code"], fault["message"])
            record(200, payload, fault)
            self._send_json(200, payload)
            return
        if fault is not None and kind == "http_status":
            self._answer_http_fault(fault, record)
            return
        if fault is not None and kind == "delay":
            ended.wait(fault["seconds"])  # slow (cut short by a stop or reset), then answered normally

        payload = self._evaluate(token_valid, parsed_ok, body)
        record(200, payload, fault)
        if fault is not None and kind == "drip":
            self._drip_json(payload, fault, ended)
        else:
            self._send_json(200, payload)

    def _answer_http_fault(self, fault: dict[str, Any], record: _Record) -> None:
        status: int = fault["status"]
        extra = [("Retry-After", str(fault["retry_after"]))] if "retry_after" in fault else []
        if status in NGINX_PHRASES:
            # What a client really gets from the load balancer: HTML, not TikTok's JSON envelope.
            title = f"{status} {NGINX_PHRASES[status]}"
            html = (
                f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
                f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            record(status, None, fault)
            self._send(status, html.encode("ascii"), "text/html", extra)
            return
        payload = {"error": "http_error", "message": self.responses.get(status, ("Error",))[0]}
        record(status, payload, fault)
        self._send_json(status, payload, extra)

    def _evaluate(self, token_valid: bool | None, parsed_ok: bool, body: Any) -> dict[str, Any]:
        """Apply TikTok's checks in order and return the envelope to answer (always with HTTP 200)."""
        if not token_valid:
            return envelope(CODE_TOKEN_INVALID, CODE_MESSAGES[CODE_TOKEN_INVALID])
        media_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return envelope(CODE_INVALID_PARAMETER, "Content-Type must be application/json")
        if not parsed_ok:
            return envelope(CODE_INVALID_PARAMETER, "Request body is not valid JSON")
        try:
            validate_track_body(body)
        except InvalidBodyError as exc:
            return envelope(CODE_INVALID_PARAMETER, str(exc))
        # A valid body: the events a test marked decide between a rejection, a partial success and OK.
        marked = self.server.sandbox._answer_for_marked_events(body["data"])
        return marked if marked is not None else envelope(CODE_OK, CODE_MESSAGES[CODE_OK])

    def _redacted_headers(self, token_valid: bool | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        for raw_name, raw_value in self.headers.items():
            name = _canonical_header_name(raw_name)
            value = raw_value
            if name == "Access-Token":
                value = "<valid>" if token_valid else "<invalid>"
            elif name in _REDACTED_HEADERS:
                value = "<redacted>"
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return headers

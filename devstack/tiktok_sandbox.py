"""A local stand-in for TikTok's Events API 2.0 track route.

``TikTokSandbox`` runs a real HTTP/1.1 server on 127.0.0.1 that answers
``POST /open_api/v1.3/event/track/`` the way TikTok documents it (SPEC section 4): business errors come
back as HTTP 200 with a non-zero ``code``, 40105 for a bad ``Access-Token``, 40002 naming the offending
field for an invalid body. Tests and the local demo talk to it over sockets, so connection reuse,
timeouts and resets behave as they would against the real service.

Faults (rate limits, 5xx, slow answers, connection resets) can be queued for the next requests or
injected at random for load tests. Every track request is recorded with its ``Access-Token`` redacted.

A separate process can drive a running sandbox through a small control API on the same port
(``/_sandbox/...``, see ``_Handler._control``), and ``python -m devstack.tiktok_sandbox`` runs one in the
foreground.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import hmac
import http.server
import json
import random
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import FrameType, TracebackType
from typing import Any, Final, NoReturn, cast
from urllib.parse import urlsplit

__all__ = [
    "CODE_INVALID_PARAMETER",
    "CODE_OK",
    "CODE_RATE_LIMITED",
    "CODE_TOKEN_INVALID",
    "DEFAULT_ACCESS_TOKEN",
    "MAX_EVENTS_PER_REQUEST",
    "TIKTOK_CURRENCIES",
    "TRACK_PATH",
    "RecordedRequest",
    "TikTokSandbox",
    "main",
]

TRACK_PATH: Final = "/open_api/v1.3/event/track/"
CONTROL_PREFIX: Final = "/_sandbox/"
DEFAULT_ACCESS_TOKEN: Final = "local-sandbox-token"
MAX_EVENTS_PER_REQUEST: Final = 1000
# TikTok's byte limit is undocumented; this cap only protects the sandbox's memory (1,000 events of a
# realistic size are well under 2 MiB).
MAX_BODY_BYTES: Final = 32 * 1024 * 1024

CODE_OK: Final = 0
CODE_INVALID_PARAMETER: Final = 40002
CODE_RATE_LIMITED: Final = 40100
CODE_TOKEN_INVALID: Final = 40105

# Messages as TikTok words them (see the research notes), used when a fault does not bring its own.
_CODE_MESSAGES: Final[Mapping[int, str]] = {
    CODE_OK: "OK",
    40001: "No permission to operate pixel code. You must be an admin or operator of this advertiser "
    "account.",
    CODE_INVALID_PARAMETER: "Invalid parameter.",
    CODE_RATE_LIMITED: "Too many requests. Please retry in some time.",
    CODE_TOKEN_INVALID: "Access token is incorrect or has been revoked.",
    50000: "System error",
    50002: "Error processing request on TikTok side. Please see error message for details.",
}

# SPEC section 4: the currencies TikTok accepts; anything else makes TikTok reject the whole request.
_CURRENCY_LIST: Final = """
    AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ HKD HNL HUF IDR
    ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN PYG QAR RON
    RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR
"""
TIKTOK_CURRENCIES: Final = frozenset(_CURRENCY_LIST.split())

# nginx's wording, because that is what sits in front of TikTok and answers 502/503/504 with HTML.
_NGINX_PHRASES: Final[Mapping[int, str]] = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}

_FAULT_KINDS: Final = ("tiktok_code", "http_status", "delay", "reset")
_MAX_DELAY_SECONDS: Final = 600.0


# --------------------------------------------------------------------------------------------------
# Recorded requests


@dataclass(frozen=True)
class RecordedRequest:
    """One request that reached the sandbox's track route (or a wrong path outside ``/_sandbox/``).

    ``headers`` never holds a secret: ``Access-Token`` is stored as ``"<valid>"`` or ``"<invalid>"``
    (absent when the request had none) and ``Authorization``/``Cookie`` as ``"<redacted>"``.
    ``http_status`` and ``response`` are ``None`` when a ``reset`` fault dropped the connection.
    """

    path: str
    headers: dict[str, str]
    body: Any
    raw_size: int
    http_status: int | None
    response: dict[str, Any] | None
    received_at: float
    method: str = "POST"
    fault: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy (what ``GET /_sandbox/requests`` answers)."""
        return asdict(self)

    @property
    def code(self) -> int | None:
        """The TikTok ``code`` answered, or ``None`` when the answer was not a TikTok envelope."""
        if self.response is None:
            return None
        code = self.response.get("code")
        return code if isinstance(code, int) and not isinstance(code, bool) else None


# --------------------------------------------------------------------------------------------------
# Request validation (TikTok's rules from SPEC section 4 and the research notes)


class _InvalidBodyError(Exception):
    """A body TikTok would refuse with code 40002; ``str(exc)`` is the message, naming the field path."""


_Checker = Callable[[object, str], object]
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _fail(path: str, problem: str) -> NoReturn:
    # Messages follow TikTok's (marshmallow-style) "<path>: <problem>" and never include the value, so
    # identities cannot leak into a client's logs or dead-letter records through this sandbox.
    raise _InvalidBodyError(f"{path}: {problem}")


def _not_null(value: object, path: str) -> None:
    if value is None:
        _fail(path, "Field may not be null")


def _string(value: object, path: str) -> str:
    _not_null(value, path)
    if not isinstance(value, str):
        _fail(path, "Not a valid string")
    return value


def _non_empty_string(value: object, path: str) -> str:
    text = _string(value, path)
    if not text.strip():
        _fail(path, "Field may not be empty")
    return text


def _integer(value: object, path: str) -> int:
    _not_null(value, path)
    # bool is an int subclass in Python but not an integer in JSON.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(path, "Not a valid integer")
    return value


def _number(value: object, path: str) -> float:
    _not_null(value, path)
    if not isinstance(value, int | float) or isinstance(value, bool):
        _fail(path, "Not a valid number")
    try:
        return float(value)
    except OverflowError:  # an integer beyond a double: TikTok refuses it as a parameter error
        _fail(path, "Not a valid number")


def _boolean(value: object, path: str) -> bool:
    _not_null(value, path)
    if not isinstance(value, bool):
        _fail(path, "Not a valid boolean")
    return value


def _list(value: object, path: str) -> list[object]:
    _not_null(value, path)
    if not isinstance(value, list):
        _fail(path, "Not a valid list")
    return cast(list[object], value)


def _object(
    value: object, path: str, fields: Mapping[str, _Checker], required: Sequence[str] = ()
) -> dict[str, object]:
    """Check a JSON object against a field table: unknown keys, required keys, then each field."""
    _not_null(value, path)
    if not isinstance(value, dict):
        _fail(path, "Not a valid mapping type")
    obj = cast(dict[str, object], value)
    for key in obj:
        if key not in fields:
            _fail(_join(path, key), "Unknown field")
    for key in required:
        if key not in obj:
            _fail(_join(path, key), "Missing data for required field")
    for key, item in obj.items():
        fields[key](item, _join(path, key))
    return obj


def _one_of(*allowed: str) -> _Checker:
    def check(value: object, path: str) -> str:
        text = _string(value, path)
        if text not in allowed:
            _fail(path, f"Must be one of: {', '.join(allowed)}")
        return text

    return check


def _list_of(item: _Checker) -> _Checker:
    def check(value: object, path: str) -> list[object]:
        items = _list(value, path)
        for index, element in enumerate(items):
            item(element, _join(path, index))
        return items

    return check


def _sha256_hex(value: object, path: str) -> str:
    text = _string(value, path)
    if not _SHA256_HEX.fullmatch(text):
        _fail(path, "not a SHA-256 hash (64 lowercase hex characters)")
    return text


def _hashed_identity(value: object, path: str) -> object:
    # TikTok documents arrays of hashes; its own GTM template sends a single string, which is accepted too.
    if isinstance(value, list):
        items = cast(list[object], value)
        if not items:
            _fail(path, "Shorter than minimum length 1")
        for index, element in enumerate(items):
            _sha256_hex(element, _join(path, index))
        return items
    return _sha256_hex(value, path)


def _event_time(value: object, path: str) -> int:
    seconds = _integer(value, path)
    if seconds >= 10**10:
        _fail(path, "looks like milliseconds; event_time must be a Unix timestamp in seconds")
    if seconds < 10**9:
        _fail(path, "Not a valid Unix timestamp in seconds")
    return seconds


def _page_url(value: object, path: str) -> str:
    url = _string(value, path)
    if not url.startswith(("http://", "https://")):
        _fail(path, "Not a valid URL (must start with http:// or https://)")
    return url


def _currency(value: object, path: str) -> str:
    code = _string(value, path)
    if code not in TIKTOK_CURRENCIES:
        _fail(path, "Not a supported currency code")
    return code


_CONTENT_FIELDS: Final[Mapping[str, _Checker]] = {
    "content_id": _string,
    "content_name": _string,
    "content_category": _string,
    "price": _number,
    "quantity": _integer,
    "brand": _string,
}


def _content(value: object, path: str) -> object:
    return _object(value, path, _CONTENT_FIELDS)


_PROPERTIES_FIELDS: Final[Mapping[str, _Checker]] = {
    "contents": _list_of(_content),
    "content_type": _one_of("product", "product_group"),
    "currency": _currency,
    "value": _number,
    "query": _string,
    "description": _string,
    "order_id": _string,
    "content_ids": _list_of(_string),
    "num_items": _integer,
    "search_string": _string,
    "shop_id": _string,
}

_USER_FIELDS: Final[Mapping[str, _Checker]] = {
    "email": _hashed_identity,
    "phone": _hashed_identity,
    "external_id": _hashed_identity,
    "ip": _string,
    "user_agent": _string,
    "ttclid": _string,
    "ttp": _string,
    "locale": _string,
}

_PAGE_FIELDS: Final[Mapping[str, _Checker]] = {"url": _page_url, "referrer": _string}


def _user(value: object, path: str) -> object:
    return _object(value, path, _USER_FIELDS)


def _page(value: object, path: str) -> object:
    return _object(value, path, _PAGE_FIELDS)


def _properties(value: object, path: str) -> object:
    return _object(value, path, _PROPERTIES_FIELDS)


_EVENT_FIELDS: Final[Mapping[str, _Checker]] = {
    "event": _non_empty_string,
    "event_time": _event_time,
    "event_id": _string,
    "user": _user,
    "page": _page,
    "properties": _properties,
    "limited_data_use": _boolean,
}


def _event(value: object, path: str) -> object:
    return _object(value, path, _EVENT_FIELDS, required=("event", "event_time"))


def _data(value: object, path: str) -> list[object]:
    events = _list(value, path)
    if not events:
        _fail(path, f"must contain between 1 and {MAX_EVENTS_PER_REQUEST} events")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        # TikTok rejects the whole request, not just the events past the limit.
        _fail(
            path,
            f"batch of {len(events)} events exceeds the limit of {MAX_EVENTS_PER_REQUEST} events per request",
        )
    for index, event in enumerate(events):
        _event(event, _join(path, index))
    return events


_TOP_LEVEL_FIELDS: Final[Mapping[str, _Checker]] = {
    # The sandbox stands in for web pixels only, which is all this connector sends.
    "event_source": _one_of("web"),
    "event_source_id": _non_empty_string,
    "test_event_code": _string,
    "partner_name": _string,
    "data": _data,
}


def _validate_track_body(body: object) -> None:
    """Raise ``_InvalidBodyError`` (its message names the field path) unless ``body`` is valid."""
    if not isinstance(body, dict):
        raise _InvalidBodyError("Request body must be a JSON object")
    _object(body, "", _TOP_LEVEL_FIELDS, required=("event_source", "event_source_id", "data"))


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN/Infinity; JSON (and TikTok) do not.
    raise ValueError(f"invalid JSON constant {name}")


def _parse_json(raw: bytes) -> tuple[bool, Any]:
    """Return ``(True, value)`` for a valid UTF-8 JSON document, else ``(False, None)``."""
    try:
        return True, json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


# --------------------------------------------------------------------------------------------------
# Faults


def _normalize_fault(fault: object) -> dict[str, Any]:
    """Validate a fault dict and return a canonical copy with defaults filled in.

    Raises ``ValueError`` with a readable reason so both the Python API and the control API can
    report a mistake instead of silently ignoring it.
    """
    if not isinstance(fault, Mapping):
        raise ValueError(f"a fault must be a JSON object, got {type(fault).__name__}")
    spec = cast(Mapping[str, Any], fault)
    kind = spec.get("kind")
    if kind not in _FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(_FAULT_KINDS)}; got {kind!r}")

    def allow(*keys: str) -> None:
        unknown = sorted(set(spec) - {"kind", *keys})
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)} in {kind} fault")

    if kind == "tiktok_code":
        allow("code", "message")
        code = spec.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise ValueError("tiktok_code fault needs an integer 'code'")
        message = spec.get("message", _CODE_MESSAGES.get(code, "Error."))
        if not isinstance(message, str):
            raise ValueError("tiktok_code fault 'message' must be a string")
        return {"kind": kind, "code": code, "message": message}
    if kind == "http_status":
        allow("status", "retry_after")
        status = spec.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError("http_status fault needs an integer 'status' between 400 and 599")
        normalized: dict[str, Any] = {"kind": kind, "status": status}
        if "retry_after" in spec:
            retry_after = spec["retry_after"]
            if not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 0:
                raise ValueError("http_status fault 'retry_after' must be a non-negative integer")
            normalized["retry_after"] = retry_after
        return normalized
    if kind == "delay":
        allow("seconds")
        seconds = spec.get("seconds")
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds <= _MAX_DELAY_SECONDS
        ):
            raise ValueError(f"delay fault needs 'seconds' between 0 and {_MAX_DELAY_SECONDS:g}")
        return {"kind": kind, "seconds": float(seconds)}
    allow()
    return {"kind": kind}


# --------------------------------------------------------------------------------------------------
# HTTP server


def _request_id() -> str:
    # TikTok's request ids are a UTC timestamp followed by hex; clients only log them.
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + uuid.uuid4().hex[:18].upper()


def _envelope(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": _request_id(), "data": {}}


def _canonical_header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


_REDACTED_HEADERS: Final = frozenset({"Authorization", "Proxy-Authorization", "Cookie"})


class _SandboxServer(http.server.ThreadingHTTPServer):
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
    server: _SandboxServer

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
        """Handle PUT (control API: tokens)."""
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
            self._control(path)
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
        seq, generation = sandbox._arrival()
        token_valid = sandbox._token_is_valid(self.headers.get("Access-Token"))
        headers = self._redacted_headers(token_valid)
        raw = self._read_body()
        if raw is None:
            return
        parsed_ok, body = _parse_json(raw)

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
        if fault is not None:
            kind = fault["kind"]
            if kind == "reset":
                record(None, None, fault)
                self._reset_connection()
                return
            if kind == "tiktok_code":
                payload = _envelope(fault["code"], fault["message"])
                record(200, payload, fault)
                self._send_json(200, payload)
                return
            if kind == "http_status":
                self._answer_http_fault(fault, record)
                return
            # A delay fault: slow, then answered like any other request.
            time.sleep(fault["seconds"])

        payload = self._evaluate(token_valid, parsed_ok, body)
        record(200, payload, fault)
        self._send_json(200, payload)

    def _answer_http_fault(
        self,
        fault: dict[str, Any],
        record: Callable[[int | None, dict[str, Any] | None, dict[str, Any] | None], None],
    ) -> None:
        status: int = fault["status"]
        extra = [("Retry-After", str(fault["retry_after"]))] if "retry_after" in fault else []
        if status in _NGINX_PHRASES:
            # What a client really gets from the load balancer: HTML, not TikTok's JSON envelope.
            title = f"{status} {_NGINX_PHRASES[status]}"
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
            return _envelope(CODE_TOKEN_INVALID, _CODE_MESSAGES[CODE_TOKEN_INVALID])
        media_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return _envelope(CODE_INVALID_PARAMETER, "Content-Type must be application/json")
        if not parsed_ok:
            return _envelope(CODE_INVALID_PARAMETER, "Request body is not valid JSON")
        try:
            _validate_track_body(body)
        except _InvalidBodyError as exc:
            return _envelope(CODE_INVALID_PARAMETER, str(exc))
        return _envelope(CODE_OK, _CODE_MESSAGES[CODE_OK])

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

    # -- control API ----------------------------------------------------------------------------

    def _control(self, path: str) -> None:
        """Serve the control API.

        ``GET /_sandbox/requests`` recorded requests; ``GET /_sandbox/stats`` counters;
        ``POST /_sandbox/faults`` queue a JSON list of faults; ``POST /_sandbox/random_faults``
        ``{"rate", "faults", "seed"}``; ``POST /_sandbox/reset``; ``PUT /_sandbox/tokens`` a JSON list.
        """
        sandbox = self.server.sandbox
        raw = self._read_body()
        if raw is None:
            return
        route = (self.command, path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/requests"):
                self._send_json(200, [request.to_dict() for request in sandbox.requests()])
            elif route == ("GET", "/_sandbox/stats"):
                self._send_json(200, sandbox.stats())
            elif route == ("POST", "/_sandbox/faults"):
                faults = self._control_json(raw)
                if not isinstance(faults, list):
                    raise ValueError("expected a JSON list of faults")
                sandbox.fail_next(*faults)
                self._send_json(200, {"queued": len(faults)})
            elif route == ("POST", "/_sandbox/random_faults"):
                spec = self._control_json(raw)
                if not isinstance(spec, dict):
                    raise ValueError('expected {"rate": float, "faults": [...], "seed": int | null}')
                sandbox.set_random_faults(spec.get("rate", 0), spec.get("faults", []), spec.get("seed"))
                self._send_json(200, {"ok": True})
            elif route == ("POST", "/_sandbox/reset"):
                sandbox.reset()
                self._send_json(200, {"ok": True})
            elif route == ("PUT", "/_sandbox/tokens"):
                tokens = self._control_json(raw)
                if not isinstance(tokens, list):
                    raise ValueError("expected a JSON list of tokens")
                sandbox.set_access_tokens(tokens)
                self._send_json(200, {"tokens": len(tokens)})
            else:
                self._send_json(
                    404, {"error": "not_found", "message": f"No control route {self.command} {path}"}
                )
        except (ValueError, TypeError) as exc:
            self._send_json(400, {"error": "bad_request", "message": str(exc)})

    @staticmethod
    def _control_json(raw: bytes) -> Any:
        ok, value = _parse_json(raw)
        if not ok:
            raise ValueError("request body is not valid JSON")
        return value


# --------------------------------------------------------------------------------------------------
# Public API


class TikTokSandbox:
    """A local TikTok Events API 2.0 track endpoint on a real socket.

    Use it as ``with TikTokSandbox().start() as sandbox:`` (or ``with TikTokSandbox() as sandbox:``) and
    point the connector at ``sandbox.track_url``. All methods are thread-safe.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        access_tokens: Iterable[str] = (DEFAULT_ACCESS_TOKEN,),
    ) -> None:
        """Configure the sandbox; nothing listens until ``start()`` (port 0 picks a free port)."""
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._tokens: tuple[str, ...] = ()
        self.set_access_tokens(access_tokens)
        self._queued_faults: deque[dict[str, Any]] = deque()
        self._random_rate = 0.0
        self._random_faults: list[dict[str, Any]] = []
        self._random = random.Random()
        # (arrival sequence, record), kept sorted so requests() is in arrival order even when a slow
        # (delayed) request finishes after a later one.
        self._records: list[tuple[int, RecordedRequest]] = []
        self._next_seq = 0
        # Bumped by reset() so a request still in flight during a reset is not recorded afterwards.
        self._generation = 0
        self._connections_opened = 0
        self._open_sockets: set[socket.socket] = set()
        self._server: _SandboxServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        # Deliberately without the tokens.
        state = self.base_url if self._server is not None else "stopped"
        return f"<TikTokSandbox {state}>"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> TikTokSandbox:
        """Bind and serve in a daemon thread; return ``self``. Raises ``OSError`` if the port is taken."""
        with self._lock:
            if self._server is not None:
                return self
            server = _SandboxServer((self._host, self._port), self)
            self._server = server
            self._connections_opened = 0
        # A short poll interval keeps stop() (and so per-test fixtures) fast.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="tiktok-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open client connections and free the port. Safe to call twice."""
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
            open_sockets = list(self._open_sockets)
        if server is None:
            return
        server.shutdown()
        # Idle keep-alive connections would otherwise keep their handler threads blocked in a read.
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> TikTokSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port being served (only while started)."""
        server = self._server
        if server is None:
            raise RuntimeError("TikTokSandbox is not started")
        return int(server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running sandbox."""
        server = self._server
        if server is None:
            raise RuntimeError("TikTokSandbox is not started")
        host = str(server.server_address[0])
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{server.server_address[1]}"

    @property
    def track_url(self) -> str:
        """The Events API track URL to configure as ``TIKTOK_API_URL``."""
        return self.base_url + TRACK_PATH

    # -- configuration --------------------------------------------------------------------------

    def set_access_tokens(self, tokens: Iterable[str]) -> None:
        """Replace the accepted ``Access-Token`` values (e.g. to simulate a rotation or revocation)."""
        if isinstance(tokens, str | bytes):
            # A bare string would otherwise be taken as a collection of one-character tokens.
            raise TypeError("access tokens must be a list of strings, not a single string")
        accepted = tuple(tokens)
        if not all(isinstance(token, str) and token for token in accepted):
            raise ValueError("every access token must be a non-empty string")
        with self._lock:
            self._tokens = accepted

    def fail_next(self, *faults: Mapping[str, Any]) -> None:
        """Queue faults for the next track requests, one per request, in order.

        Formats: ``{"kind": "tiktok_code", "code": 40100, "message": "..."}`` (HTTP 200 with that code;
        message optional), ``{"kind": "http_status", "status": 503, "retry_after": 1}`` (retry_after
        optional; 502/503/504 answer nginx-style HTML, others JSON), ``{"kind": "delay", "seconds": 2.5}``
        (sleep, then answer normally), ``{"kind": "reset"}`` (drop the connection with a TCP RST).
        Raises ``ValueError`` for a malformed fault; then nothing is queued.
        """
        normalized = [_normalize_fault(fault) for fault in faults]
        with self._lock:
            self._queued_faults.extend(normalized)

    def set_random_faults(
        self, rate: float, faults: Sequence[Mapping[str, Any]], seed: int | None = None
    ) -> None:
        """Apply a randomly chosen fault to each track request with probability ``rate``.

        Queued faults (``fail_next``) take precedence. ``set_random_faults(0, [])`` turns this off.
        ``seed`` makes the sequence of choices reproducible.
        """
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError("rate must be a number between 0 and 1")
        if isinstance(faults, str | bytes | Mapping) or not isinstance(faults, Sequence):
            raise ValueError("faults must be a list of fault objects")
        normalized = [_normalize_fault(fault) for fault in faults]
        if rate > 0 and not normalized:
            raise ValueError("a positive rate needs at least one fault")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError("seed must be an integer or null")
        with self._lock:
            self._random_rate = float(rate)
            self._random_faults = normalized
            self._random = random.Random(seed)

    def reset(self) -> None:
        """Forget recorded requests, queued and random faults, and the connection counter."""
        with self._lock:
            self._records.clear()
            self._queued_faults.clear()
            self._random_rate = 0.0
            self._random_faults = []
            self._connections_opened = 0
            self._generation += 1

    # -- observations ---------------------------------------------------------------------------

    def requests(self) -> list[RecordedRequest]:
        """Every track request answered (or reset) so far, accepted or not, in arrival order."""
        with self._lock:
            return [record for _, record in self._records]

    def accepted_events(self) -> list[dict[str, Any]]:
        """The events of every request answered with code 0, in arrival order (treat as read-only)."""
        events: list[dict[str, Any]] = []
        for record in self.requests():
            if record.http_status == 200 and record.code == CODE_OK and isinstance(record.body, dict):
                events.extend(cast(list[dict[str, Any]], record.body["data"]))
        return events

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since ``start()`` or ``reset()`` (control API calls included)."""
        with self._lock:
            return self._connections_opened

    def stats(self) -> dict[str, int]:
        """Counters for the control API and load tests."""
        records = self.requests()
        return {
            "connections_opened": self.connections_opened,
            "requests": len(records),
            "accepted_requests": sum(1 for record in records if record.code == CODE_OK),
            "accepted_events": len(self.accepted_events()),
        }

    # -- hooks used by the handler ----------------------------------------------------------------

    def _connection_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections_opened += 1
            self._open_sockets.add(sock)

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_sockets.discard(sock)

    def _arrival(self) -> tuple[int, int]:
        with self._lock:
            self._next_seq += 1
            return self._next_seq, self._generation

    def _record(self, seq: int, generation: int, record: RecordedRequest) -> None:
        with self._lock:
            if generation == self._generation:
                bisect.insort(self._records, (seq, record), key=lambda item: item[0])

    def _token_is_valid(self, presented: str | None) -> bool | None:
        """``None`` when no token was sent, else whether it is one of the accepted tokens."""
        if presented is None:
            return None
        with self._lock:
            tokens = self._tokens
        candidate = presented.encode("utf-8", "surrogateescape")
        # Compare against every token without stopping early, in constant time per comparison.
        matches = [hmac.compare_digest(candidate, token.encode("utf-8")) for token in tokens]
        return any(matches)

    def _take_fault(self) -> dict[str, Any] | None:
        with self._lock:
            if self._queued_faults:
                return self._queued_faults.popleft()
            if self._random_rate > 0 and self._random.random() < self._random_rate:
                return dict(self._random.choice(self._random_faults))
            return None


# --------------------------------------------------------------------------------------------------
# Command line


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


if __name__ == "__main__":
    sys.exit(main())

"""``TikTokSandbox``: the object tests and the local demo hold, and its thread-safe state."""

from __future__ import annotations

import bisect
import contextlib
import hmac
import random
import socket
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from devstack.tiktok_sandbox.faults import normalize_event_ids, normalize_fault
from devstack.tiktok_sandbox.marks import DEFAULT_FAILURE_MESSAGE, answer_for_marked_events
from devstack.tiktok_sandbox.protocol import (
    CODE_OK,
    CODE_PARTIAL_SUCCESS,
    DEFAULT_ACCESS_TOKEN,
    TRACK_PATH,
)
from devstack.tiktok_sandbox.recorded import RecordedRequest
from devstack.tiktok_sandbox.server import SandboxServer


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
        # Set when the sandbox stops or is reset, then replaced: ends the waits of slow (delayed or
        # dripping) answers that belong to the old state.
        self._ended = threading.Event()
        self._rejected_events: frozenset[str] = frozenset()
        self._partial_failures: frozenset[str] = frozenset()
        self._failure_message = DEFAULT_FAILURE_MESSAGE
        self._connections_opened = 0
        self._open_sockets: set[socket.socket] = set()
        self._server: SandboxServer | None = None
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
            server = SandboxServer((self._host, self._port), self)
            self._server = server
            self._connections_opened = 0
            if self._ended.is_set():
                self._ended = threading.Event()
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
            self._ended.set()
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
        (sleep, then answer normally), ``{"kind": "drip", "seconds_per_byte": 1.0, "body_only": false}``
        (answer normally, one byte of the HTTP answer per ``seconds_per_byte``; both keys optional),
        ``{"kind": "reset"}`` (drop the connection with a TCP RST).
        Raises ``ValueError`` for a malformed fault; then nothing is queued.
        """
        normalized = [normalize_fault(fault) for fault in faults]
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
        normalized = [normalize_fault(fault) for fault in faults]
        if rate > 0 and not normalized:
            raise ValueError("a positive rate needs at least one fault")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError("seed must be an integer or null")
        with self._lock:
            self._random_rate = float(rate)
            self._random_faults = normalized
            self._random = random.Random(seed)

    def set_rejected_events(self, event_ids: Iterable[str]) -> None:
        """Refuse, with code 40002, every valid request that carries an event with one of these ids.

        The whole request fails, as with TikTok when one event is invalid, and is recorded like any
        other, so a test can count how a client splits its batch. ``set_rejected_events([])`` turns it
        off. The marks hold until replaced or ``reset()``.
        """
        marks = normalize_event_ids(event_ids, "rejected events")
        with self._lock:
            self._rejected_events = marks

    def set_partial_failures(self, event_ids: Iterable[str], message: str = DEFAULT_FAILURE_MESSAGE) -> None:
        """Answer code 20001 to every valid request that carries an event with one of these ids.

        The answer lists those events under ``data.failed_events`` (``index``, ``event_id``, ``code``
        40002, ``message``); the request's other events count as accepted. Rejected events (see
        ``set_rejected_events``) take precedence. ``set_partial_failures([])`` turns it off.
        """
        marks = normalize_event_ids(event_ids, "partial failures")
        if not isinstance(message, str):
            raise TypeError("the failure message must be a string")
        with self._lock:
            self._partial_failures = marks
            self._failure_message = message

    def reset(self) -> None:
        """Forget recorded requests, queued and random faults, marked events and the connection counter.

        Answers still being delayed or dripped are cut short.
        """
        with self._lock:
            self._records.clear()
            self._queued_faults.clear()
            self._random_rate = 0.0
            self._random_faults = []
            self._rejected_events = frozenset()
            self._partial_failures = frozenset()
            self._failure_message = DEFAULT_FAILURE_MESSAGE
            self._connections_opened = 0
            self._generation += 1
            self._ended.set()
            self._ended = threading.Event()

    # -- observations ---------------------------------------------------------------------------

    def requests(self) -> list[RecordedRequest]:
        """Every track request answered (or reset) so far, accepted or not, in arrival order."""
        with self._lock:
            return [record for _, record in self._records]

    def accepted_events(self) -> list[dict[str, Any]]:
        """The events TikTok kept, in arrival order (treat as read-only).

        Every event of a request answered with code 0, and those of a code 20001 answer that it did not
        name as failed.
        """
        events: list[dict[str, Any]] = []
        for record in self.requests():
            events.extend(record.accepted_events())
        return events

    def requests_with_event(self, event_id: str) -> list[RecordedRequest]:
        """The recorded requests that carried an event with this ``event_id``, in arrival order."""
        return [record for record in self.requests() if event_id in record.event_ids]

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
            "partial_success_requests": sum(1 for record in records if record.code == CODE_PARTIAL_SUCCESS),
            "accepted_events": sum(len(record.accepted_events()) for record in records),
        }

    # -- hooks used by the handler ----------------------------------------------------------------

    def _connection_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections_opened += 1
            self._open_sockets.add(sock)

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_sockets.discard(sock)

    def _arrival(self) -> tuple[int, int, threading.Event]:
        """Arrival number, generation (bumped by ``reset``) and the event that ends this generation."""
        with self._lock:
            self._next_seq += 1
            return self._next_seq, self._generation, self._ended

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

    def _answer_for_marked_events(self, events: Sequence[object]) -> dict[str, Any] | None:
        with self._lock:
            rejected, partial, message = self._rejected_events, self._partial_failures, self._failure_message
        return answer_for_marked_events(events, rejected, partial, message)

    def _take_fault(self) -> dict[str, Any] | None:
        with self._lock:
            if self._queued_faults:
                return self._queued_faults.popleft()
            if self._random_rate > 0 and self._random.random() < self._random_rate:
                return dict(self._random.choice(self._random_faults))
            return None

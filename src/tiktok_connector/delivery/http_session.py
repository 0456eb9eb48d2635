"""The container's HTTP connections to TikTok, and a deadline on the whole answer of each POST.

POSTs go through urllib3, the transport requests itself is built on, with one pool of kept-alive
connections per container. A `requests.Session` on top of it cost ~0.2 ms of CPU per POST (request
preparation, settings merge, cookie jar, hooks, its own copy of the answer's headers): most of the
connector's fixed cost per invocation (BENCHMARKS.md, "What changed in this round").

urllib3's read timeout bounds each wait for bytes, not the answer: a server that sends one byte a second
never trips it. Each POST is therefore watched: one watchdog thread per container shuts the connection
of a POST whose deadline has passed down, which ends any blocked connect, send or read at once (the POST
then fails and the caller sees `DeadlineReachedError`). The connection classes below only tell the
current POST's watch which connection it is using. A thread per POST (a `threading.Timer`) did the same
at ~0.2 ms per POST; the one watchdog sleeps until the earliest deadline and is woken only when a POST
has an earlier one than it sleeps for.
"""

import contextlib
import math
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import certifi
from urllib3 import BaseHTTPResponse, PoolManager, ProxyManager, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as TimeoutReachedError
from urllib3.util import parse_url

from tiktok_connector.platform.observability import TRACING, tracer

_session: PoolManager | None = None
_direct: tuple[str, PoolManager, HTTPConnectionPool, str] | None = None
_current = threading.local()


class PostFailedError(Exception):
    """No HTTP answer: the connection could not be made or broke, or the URL cannot be reached."""


class PostTimedOutError(PostFailedError):
    """No answer within the connect or read timeout."""


class DeadlineReachedError(PostTimedOutError):
    """The whole answer did not arrive within the POST's deadline; the connection was closed."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An HTTP answer, read whole."""

    status_code: int
    reason: str
    content: bytes


class _Watch:
    """The connections one POST used, shut down together when its deadline passes."""

    __slots__ = ("_connections", "due", "fired")

    def __init__(self, due: float) -> None:
        self.due = due
        self.fired = False
        self._connections: list[HTTPConnection] = []

    def add(self, connection: HTTPConnection) -> None:
        with _WATCHDOG.lock:
            self._connections.append(connection)
            if self.fired:
                _shut(connection)

    def fire(self) -> None:
        """Called by the watchdog, with its lock held."""
        self.fired = True
        for connection in self._connections:
            _shut(connection)


class _Watchdog:
    """One daemon thread per container that fires the watches whose deadline has passed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._condition = threading.Condition(self.lock)
        self._watches: list[_Watch] = []
        self._wake_at = math.inf
        """When the thread wakes up next (a watch ended since may leave it an early, idle wake-up)."""
        self._thread: threading.Thread | None = None

    def watch(self, deadline_s: float) -> _Watch:
        watch = _Watch(time.monotonic() + deadline_s)
        with self._condition:
            self._watches.append(watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tiktok-post-deadline", daemon=True)
                self._thread.start()
            elif watch.due < self._wake_at:
                self._condition.notify()
        return watch

    def end(self, watch: _Watch) -> None:
        with self._condition, contextlib.suppress(ValueError):  # a fired watch is already gone
            self._watches.remove(watch)

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for watch in [watch for watch in self._watches if watch.due <= now]:
                    self._watches.remove(watch)
                    watch.fire()
                self._wake_at = min((watch.due for watch in self._watches), default=math.inf)
                self._condition.wait(None if self._wake_at == math.inf else self._wake_at - now)


_WATCHDOG: Final = _Watchdog()


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return
    # The plain socket's shutdown, also for TLS: it wakes a blocked read without touching TLS state.
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(connection: HTTPConnection) -> None:
    watch: _Watch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watched(self)  # a socket made after the deadline fired is shut at once

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watched(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS: Final = {"http": _HTTPPool, "https": _HTTPSPool}


def post_within(
    url: str, *, data: bytes, headers: dict[str, str], timeout: tuple[float, float], deadline_s: float
) -> HttpAnswer:
    """POST and read the whole answer within `deadline_s` seconds.

    `timeout` is the (connect, read) pair, kept so that a silent server is noticed early. Raises
    `DeadlineReachedError` when the deadline cut the POST off, `PostTimedOutError` when a timeout
    did, `PostFailedError` when no answer came for another reason. Redirects are not followed: TikTok's
    track route answers where it is asked, and the access token must not follow a redirect elsewhere.
    """
    if not TRACING:
        return _post(url, data, headers, timeout, deadline_s)
    parts = urlsplit(url)
    # The X-Ray subsegment the SDK's requests patch recorded: host, method, URL without its query, status.
    with tracer.provider.in_subsegment(name=parts.hostname or "tiktok", namespace="remote") as segment:
        answer = _post(url, data, headers, timeout, deadline_s)
        subsegment: Any = segment  # the X-Ray SDK's subsegment (None without a trace to join)
        if subsegment is not None:
            subsegment.put_http_meta("method", "POST")
            subsegment.put_http_meta("url", f"{parts.scheme}://{parts.netloc}{parts.path}")
            subsegment.put_http_meta("status", answer.status_code)
        return answer


def _post(
    url: str, data: bytes, headers: dict[str, str], timeout: tuple[float, float], deadline_s: float
) -> HttpAnswer:
    opener, target = _opener(url)
    watch = _WATCHDOG.watch(deadline_s)
    _current.watch = watch
    try:
        response = opener(
            "POST",
            target,
            body=data,
            headers=headers,
            timeout=Timeout(connect=timeout[0], read=timeout[1]),
            retries=False,  # our own retry loop decides, with the Lambda deadline in view
            redirect=False,
            assert_same_host=False,
            preload_content=True,
        )
        answer = HttpAnswer(response.status, response.reason or "", response.data)
    except NewConnectionError:  # refused or unreachable (urllib3 files it under its timeouts)
        raise (DeadlineReachedError if watch.fired else PostFailedError) from None
    except TimeoutReachedError:
        raise (DeadlineReachedError if watch.fired else PostTimedOutError) from None
    except (HTTPError, OSError):
        raise (DeadlineReachedError if watch.fired else PostFailedError) from None
    finally:
        _current.watch = None
        _WATCHDOG.end(watch)
    if watch.fired:
        # Cut off mid-headers, the answer can look complete (no Content-Length seen yet): not to be read.
        raise DeadlineReachedError
    return answer


def _opener(url: str) -> tuple[Callable[..., BaseHTTPResponse], str]:
    """What opens a request to `url`, and the target to give it: without a proxy, the host's own
    connection pool and the path (the pool manager would parse the URL and look the pool up on every
    POST, ~45 µs), else the proxy manager and the whole URL."""
    global _direct  # noqa: PLW0603 - the last URL's pool, one per container
    manager = session(url)
    if type(manager) is not PoolManager:
        return manager.urlopen, url
    if _direct is None or _direct[0] != url or _direct[1] is not manager:
        parts = parse_url(url)
        _direct = (url, manager, manager.connection_from_url(url), parts.request_uri)
    return _direct[2].urlopen, _direct[3]


def session(url: str) -> PoolManager:
    """The container's connection pool: keeps one TCP/TLS connection alive across invocations.

    The proxy (`HTTPS_PROXY`, `NO_PROXY`, ...) and the CA bundle (`REQUESTS_CA_BUNDLE`,
    `CURL_CA_BUNDLE`, else certifi's, as requests reads them) come from the environment, once.
    """
    global _session  # noqa: PLW0603 - one per container
    if _session is None:
        _session = _new_pool(url)
    return _session


def _new_pool(url: str) -> PoolManager:
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    trust = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
    options: dict[str, Any] = {"num_pools": 1, "maxsize": 4, "retries": False, **trust}
    proxy = _environment_proxy(url)
    if proxy is None:
        manager = PoolManager(**options)
    elif proxy.lower().startswith("socks"):
        try:  # SOCKS pools bring their own connection classes (and need the PySocks package)
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise PostFailedError("a SOCKS proxy needs the PySocks package") from None
        return SOCKSProxyManager(proxy, **options)
    else:
        manager = ProxyManager(proxy, **options)
    manager.pool_classes_by_scheme = _POOLS
    return manager


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`<scheme>_proxy`, else `all_proxy`), unless `no_proxy`
    exempts its host."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):  # reads `no_proxy`
        return None
    return proxy


def reset_session() -> None:
    global _session, _direct  # noqa: PLW0603
    if _session is not None:
        _session.clear()
    _session = _direct = None

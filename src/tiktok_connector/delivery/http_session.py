"""The container's HTTP connection to TikTok, and a deadline on the whole answer of each POST.

Without a proxy, POSTs go through one kept-alive connection of the standard library's `http.client`
(the layer urllib3 and requests are built on), reused across invocations and replaced when TikTok has
closed it. urllib3's pool and requests' session on top of it cost ~0.1 ms and ~0.3 ms of CPU per POST
(header checks, response wrappers, the pool's queue): most of the connector's fixed cost per
invocation (BENCHMARKS.md). With a proxy from the environment (`HTTPS_PROXY`, `NO_PROXY`, SOCKS), urllib3's
proxy managers do the tunnelling.

A read timeout bounds each wait for bytes, not the answer: a server that sends one byte a second never
trips it. Each POST is therefore watched: one watchdog thread per container shuts the connection of a
POST whose deadline has passed down, which ends any blocked connect, send or read at once (the POST
then fails and the caller sees `DeadlineReachedError`). The connection classes below only tell the
current POST's watch which connection it is using. A thread per POST (a `threading.Timer`) did the same
at ~0.2 ms per POST; the one watchdog sleeps until the earliest deadline and is woken only when a POST
has an earlier one than it sleeps for.
"""

import contextlib
import http.client
import math
import os
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import certifi
from urllib3 import PoolManager, ProxyManager, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as TimeoutReachedError
from urllib3.util.wait import wait_for_read

from tiktok_connector.platform.observability import TRACING, tracer

_session: "PoolManager | _Direct | None" = None
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
        self._connections: list[http.client.HTTPConnection] = []

    def add(self, connection: http.client.HTTPConnection) -> None:
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


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return
    # The plain socket's shutdown, also for TLS: it wakes a blocked read without touching TLS state.
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(connection: http.client.HTTPConnection) -> None:
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


class _WatchedStdlibHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watched(self)


class _WatchedStdlibHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watched(self)


class _Direct:
    """One kept-alive connection to the URL's host (no proxy), through `http.client`."""

    def __init__(self, url: str, bundle: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname or ""
        self.port = parts.port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.bundle = bundle
        """The CA certificates TLS connections trust (a file, or a directory of them)."""
        self._context: ssl.SSLContext | None = None
        self._https = parts.scheme == "https"
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # Lambda runs one invocation at a time; other callers may not

    def post(self, data: bytes, headers: dict[str, str], timeout: tuple[float, float]) -> HttpAnswer:
        with self._lock:
            return self._post(data, headers, timeout)

    def _post(self, data: bytes, headers: dict[str, str], timeout: tuple[float, float]) -> HttpAnswer:
        connection = self._connection
        if connection is not None and connection.sock is not None and wait_for_read(connection.sock, 0.0):
            connection.close()  # closed by TikTok while idle (or sent bytes no request asked for)
        if connection is None:
            connection = self._connection = self._new_connection()
        connection.timeout = timeout[0]  # for the connect, and for sending the body
        try:
            if connection.sock is None:
                connection.connect()
            else:
                _watched(connection)  # kept alive from an earlier POST: this POST's watch shuts it
                connection.sock.settimeout(timeout[0])
            connection.request("POST", self.target, body=data, headers=headers)
            assert connection.sock is not None
            connection.sock.settimeout(timeout[1])
            response = connection.getresponse()
            return HttpAnswer(response.status, response.reason or "", response.read())
        except BaseException:
            connection.close()  # in an unknown state: the next POST opens a new one
            raise

    def _new_connection(self) -> http.client.HTTPConnection:
        if not self._https:
            return _WatchedStdlibHTTPConnection(self.host, self.port)
        if self._context is None:
            if os.path.isdir(self.bundle):
                self._context = ssl.create_default_context(capath=self.bundle)
            else:
                self._context = ssl.create_default_context(cafile=self.bundle)
        return _WatchedStdlibHTTPSConnection(self.host, self.port, context=self._context)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


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
    route = session(url)
    watch = _WATCHDOG.watch(deadline_s)
    _current.watch = watch
    try:
        if isinstance(route, _Direct):
            answer = route.post(data, headers, timeout)
        else:
            answer = _post_through(route, url, data, headers, timeout)
    except NewConnectionError:  # refused or unreachable (urllib3 files it under its timeouts)
        raise (DeadlineReachedError if watch.fired else PostFailedError) from None
    except (TimeoutReachedError, TimeoutError):
        raise (DeadlineReachedError if watch.fired else PostTimedOutError) from None
    except (HTTPError, http.client.HTTPException, OSError):
        raise (DeadlineReachedError if watch.fired else PostFailedError) from None
    finally:
        _current.watch = None
        _WATCHDOG.end(watch)
    if watch.fired:
        # Cut off mid-headers, the answer can look complete (no Content-Length seen yet): not to be read.
        raise DeadlineReachedError
    return answer


def _post_through(
    manager: PoolManager, url: str, data: bytes, headers: dict[str, str], timeout: tuple[float, float]
) -> HttpAnswer:
    """Through the proxy the environment names (urllib3's proxy managers)."""
    response = manager.urlopen(
        "POST",
        url,
        body=data,
        headers=headers,
        timeout=Timeout(connect=timeout[0], read=timeout[1]),
        retries=False,  # our own retry loop decides, with the Lambda deadline in view
        redirect=False,
        assert_same_host=False,
        preload_content=True,
    )
    return HttpAnswer(response.status, response.reason or "", response.data)


def session(url: str) -> "PoolManager | _Direct":
    """The container's connection to TikTok: one kept-alive TCP/TLS connection across invocations.

    The proxy (`HTTPS_PROXY`, `NO_PROXY`, ...) and the CA bundle (`REQUESTS_CA_BUNDLE`,
    `CURL_CA_BUNDLE`, else certifi's, as requests reads them) come from the environment, once.
    """
    global _session  # noqa: PLW0603 - one per container
    if _session is None or (type(_session) is _Direct and _session.url != url):
        if _session is not None:
            _session.close()  # another TikTok URL (tests point the function at several)
        proxy = _environment_proxy(url)
        _session = _Direct(url, _ca_bundle()) if proxy is None else _new_pool(url, proxy)
    return _session


def _ca_bundle() -> str:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


def _new_pool(url: str, proxy: str | None) -> PoolManager:
    bundle = _ca_bundle()
    trust = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
    options: dict[str, Any] = {"num_pools": 1, "maxsize": 4, "retries": False, **trust}
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
    global _session  # noqa: PLW0603
    if _session is not None:
        _session.clear() if isinstance(_session, PoolManager) else _session.close()
    _session = None

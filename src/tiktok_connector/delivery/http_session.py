"""The container's HTTP session for TikTok, and a deadline on the whole answer of each POST.

requests' read timeout bounds each wait for bytes, not the answer: a server that sends one byte a second
never trips it. `post_within` starts a watchdog timer with each POST; when it fires it shuts the
connection's socket down, which ends any blocked connect, send or read at once (the POST then raises
one of requests' exceptions and the caller sees `DeadlineReachedError`). The connection classes below only
tell the current POST's watchdog which connection it is using.
"""

import contextlib
import os
import socket
import threading
from typing import Any, Final

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

_session: requests.Session | None = None
_current = threading.local()


class DeadlineReachedError(Exception):
    """The whole answer did not arrive within the POST's deadline; the connection was closed."""


class _Watch:
    """The connections one POST used, shut down together when its deadline passes."""

    def __init__(self) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []

    def add(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self.fired:
                _shut(connection)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            for connection in self._connections:
                _shut(connection)


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


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with pools of watched connections (HTTP and HTTPS proxies included)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools bring their own connection classes
            manager.pool_classes_by_scheme = _POOLS
        return manager


def post_within(
    url: str, *, data: bytes, headers: dict[str, str], timeout: tuple[float, float], deadline_s: float
) -> requests.Response:
    """POST and read the whole answer within `deadline_s` seconds, or raise `DeadlineReachedError`.

    `timeout` is requests' (connect, read) pair, kept so that a silent server is noticed early.
    """
    watch = _Watch()
    timer = threading.Timer(deadline_s, watch.fire)
    timer.daemon = True
    _current.watch = watch
    timer.start()
    try:
        response = session(url).post(url, data=data, headers=headers, timeout=timeout)
    except requests.RequestException:
        if watch.fired:
            raise DeadlineReachedError from None
        raise
    finally:
        timer.cancel()
        _current.watch = None
    if watch.fired:
        # Cut off mid-headers, the answer can look complete (no Content-Length seen yet): not to be read.
        raise DeadlineReachedError
    return response


def session(url: str) -> requests.Session:
    """The container's session: keeps one TCP/TLS connection alive across invocations."""
    global _session  # noqa: PLW0603 - one per container
    if _session is None:
        _session = requests.Session()
        # Our own retry loop decides, with the Lambda deadline in view: urllib3 must not retry.
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        _session.mount("https://", adapter)
        _session.mount("http://", adapter)
        # Proxies and CA bundle come from the environment, read once per container instead of on
        # every request (with trust_env, requests also looks for ~/.netrc each time).
        _session.proxies.update(requests.utils.get_environ_proxies(url))
        _session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        _session.trust_env = False
    return _session


def reset_session() -> None:
    global _session  # noqa: PLW0603
    if _session is not None:
        _session.close()
    _session = None

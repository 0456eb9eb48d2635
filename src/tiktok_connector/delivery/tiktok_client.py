"""HTTP client for TikTok's Events API 2.0 track route: one kept-alive session per container.

Everything about TikTok's answers lives here: the one table that classifies them (`ANSWER_CODES`,
`HTTP_STATUSES`) and the one function that posts a request with the token-refresh rule (`post_request`),
used by delivery and by the redrive alike.
"""

import enum
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import orjson
import requests
from requests.adapters import HTTPAdapter

from tiktok_connector.platform.errors import UnavailableError

_MESSAGE_LIMIT: Final = 300

_session: requests.Session | None = None

TokenSource = Callable[[bool], str | None]
"""Returns the TikTok access token; `True` asks for a fresh read that bypasses the cache."""

Timeouts = tuple[float, float]
"""(connect, read) seconds for one POST."""


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    PARTIAL = "partial"
    """Code 20001: TikTok took the request but may name events it refused; the request counts as accepted."""
    RETRY = "retry"
    TOKEN_REJECTED = "token_rejected"  # noqa: S105 - a verdict name, not a secret
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST came to: the verdict and a short, stable reason name for dead letters and metrics."""

    verdict: Verdict
    reason: str

    @property
    def accepted(self) -> bool:
        return self.verdict in (Verdict.DELIVERED, Verdict.PARTIAL)

    @property
    def retryable(self) -> bool:
        """Worth sending again later (a rejected token is, once the secret holds a working one)."""
        return self.verdict in (Verdict.RETRY, Verdict.TOKEN_REJECTED)


ANSWER_CODES: Final[Mapping[int, Outcome]] = MappingProxyType(
    {
        0: Outcome(Verdict.DELIVERED, "delivered"),
        20001: Outcome(Verdict.PARTIAL, "partial_success"),
        40100: Outcome(Verdict.RETRY, "rate_limited"),
        50000: Outcome(Verdict.RETRY, "server_error"),
        50002: Outcome(Verdict.RETRY, "server_error"),
        40105: Outcome(Verdict.TOKEN_REJECTED, "token_rejected"),
        40001: Outcome(Verdict.REJECTED, "no_permission"),
        40002: Outcome(Verdict.REJECTED, "rejected"),
    }
)
"""TikTok's `code` in an HTTP 200 answer (business errors come with HTTP 200): any other code is REJECTED.

As TikTok's Events API 2.0 docs and RudderStack's TikTok destination read them: 0 and 20001 succeed,
40100 (rate limit), 50000 and 50002 are worth retrying, 40105 means the token is invalid or revoked.
"""
HTTP_STATUSES: Final[Mapping[int, Outcome]] = MappingProxyType(
    {408: Outcome(Verdict.RETRY, "timeout"), 429: Outcome(Verdict.RETRY, "rate_limited")}
)
"""HTTP statuses decided before the body is read; every 5xx is SERVER_ERROR."""
SERVER_ERROR: Final = Outcome(Verdict.RETRY, "server_error")
UNKNOWN_ANSWER: Final = Outcome(Verdict.REJECTED, "rejected")
UNREADABLE_ANSWER: Final = Outcome(Verdict.RETRY, "invalid_answer")
"""An HTTP 200 without a readable code: retried (TikTok deduplicates by event_id if it did accept it)."""
TIMEOUT: Final = Outcome(Verdict.RETRY, "timeout")
CONNECTION_ERROR: Final = Outcome(Verdict.RETRY, "connection_error")
DEADLINE_EXCEEDED: Final = Outcome(Verdict.RETRY, "deadline_exceeded")
"""No time was left for the POST: nothing was sent."""
SECRET_UNAVAILABLE: Final = Outcome(Verdict.RETRY, "secret_unavailable")
"""Secrets Manager could not be read for the token: nothing was sent."""
TOKEN_MISSING: Final = Outcome(Verdict.RETRY, "token_missing")
_REFUSALS: Final = (Verdict.TOKEN_REJECTED, Verdict.REJECTED)


def classify(http_status: int, code: int | None) -> Outcome:
    """One answer's outcome: a retryable HTTP status first, then TikTok's code from `ANSWER_CODES`.

    Outside HTTP 200 a code can only refuse (40105 still asks for a token refresh): a success or
    retryable code in a 4xx answer is not believed.
    """
    if http_status in HTTP_STATUSES:
        return HTTP_STATUSES[http_status]
    if http_status >= 500:
        return SERVER_ERROR
    known = ANSWER_CODES.get(code) if code is not None else None
    if known is not None and (http_status == 200 or known.verdict in _REFUSALS):
        return known
    if http_status == 200 and code is None:
        return UNREADABLE_ANSWER
    return UNKNOWN_ANSWER


@dataclass(frozen=True, slots=True)
class TikTokAnswer:
    """What TikTok answered. Business errors come with HTTP 200 and a non-zero `code`."""

    http_status: int
    code: int | None
    message: str
    request_id: str | None

    @property
    def outcome(self) -> Outcome:
        return classify(self.http_status, self.code)


@dataclass(frozen=True, slots=True)
class Sent:
    """What `post_request` came to."""

    outcome: Outcome
    answer: TikTokAnswer | None
    """TikTok's last answer; None when none arrived (timeout, connection error, no time left)."""
    token: str
    """The token of the last POST: after a rotation, the refreshed one (callers may keep it)."""
    posts: int
    """POSTs made: 0 when no time was left, 1, or 2 after a token refresh."""
    latencies_ms: tuple[float, ...] = ()
    """One per answered POST."""


def post_request(
    url: str,
    body: bytes,
    *,
    token: str,
    token_source: TokenSource,
    timeouts: Callable[[], Timeouts | None],
) -> Sent:
    """POST one request body to TikTok, with the token rule; never raises for TikTok's sake.

    On 40105 (token invalid or revoked) the secret may have been rotated: it is read once more,
    bypassing the cache; if that gives another token the POST is repeated once with it, else the
    outcome stays `token_rejected`. `timeouts` gives each POST its (connect, read) seconds, or None
    when no time is left for one (the outcome is then DEADLINE_EXCEEDED).
    """
    first = _attempt(url, token, body, timeouts)
    if first.outcome.verdict is not Verdict.TOKEN_REJECTED:
        return first
    fresh = _fresh_token(token_source)
    if not fresh or fresh == token:
        return first
    second = _attempt(url, fresh, body, timeouts)
    return Sent(
        outcome=second.outcome,
        answer=second.answer,
        token=fresh,
        posts=first.posts + second.posts,
        latencies_ms=first.latencies_ms + second.latencies_ms,
    )


def _fresh_token(token_source: TokenSource) -> str | None:
    try:
        return token_source(True)
    except UnavailableError:  # no fresh token to try: the rejection stands
        return None


def _attempt(url: str, token: str, body: bytes, timeouts: Callable[[], Timeouts | None]) -> Sent:
    timeout = timeouts()
    if timeout is None:
        return Sent(outcome=DEADLINE_EXCEEDED, answer=None, token=token, posts=0)
    started = time.perf_counter()
    try:
        answer = _post(url, token, body, timeout)
    except requests.Timeout:
        return Sent(outcome=TIMEOUT, answer=None, token=token, posts=1)
    except requests.RequestException:
        return Sent(outcome=CONNECTION_ERROR, answer=None, token=token, posts=1)
    latency_ms = (time.perf_counter() - started) * 1000
    return Sent(outcome=answer.outcome, answer=answer, token=token, posts=1, latencies_ms=(latency_ms,))


def encode_request_body(body: Mapping[str, object]) -> bytes:
    """A request body as compact JSON bytes (orjson; the standard library for what it refuses)."""
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. a lone surrogate in a configured static value
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def session(url: str) -> requests.Session:
    """The container's session: keeps one TCP/TLS connection alive across invocations."""
    global _session  # noqa: PLW0603 - one per container
    if _session is None:
        _session = requests.Session()
        # Our own retry loop decides, with the Lambda deadline in view: urllib3 must not retry.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
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


def _post(url: str, access_token: str, body: bytes, timeout: Timeouts) -> TikTokAnswer:
    """One POST; raises requests' exceptions when no HTTP answer arrives."""
    headers = {"Access-Token": access_token, "Content-Type": "application/json"}
    response = session(url).post(url, data=body, headers=headers, timeout=timeout)
    return _read_answer(response)


def _read_answer(response: requests.Response) -> TikTokAnswer:
    code: int | None = None
    message = ""
    request_id: str | None = None
    try:
        document = json.loads(response.content)
    except ValueError:
        document = None
    if isinstance(document, dict):
        raw_code = document.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        message = str(document.get("message") or "")[:_MESSAGE_LIMIT]
        raw_request_id = document.get("request_id")
        request_id = str(raw_request_id) if raw_request_id is not None else None
    else:
        message = (response.reason or "")[:_MESSAGE_LIMIT]
    return TikTokAnswer(http_status=response.status_code, code=code, message=message, request_id=request_id)

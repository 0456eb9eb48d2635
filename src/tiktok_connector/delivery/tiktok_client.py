"""HTTP client for TikTok's Events API 2.0 track route: one kept-alive session per container.

Everything about TikTok's answers lives here: the one table that classifies them (`ANSWER_CODES`,
`HTTP_STATUSES`) and the one function that posts a request with the token-refresh rule (`post_request`),
used by delivery and by the redrive alike. Each POST has a deadline on its whole answer (see
`http_session`), and TikTok's free-text message is masked before anyone stores or logs it.
"""

import enum
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import orjson

from tiktok_connector.delivery import http_session
from tiktok_connector.delivery.http_session import HttpAnswer, PostFailedError, PostTimedOutError, post_within
from tiktok_connector.delivery.masking import mask_personal_data
from tiktok_connector.platform.errors import UnavailableError

_MESSAGE_LIMIT: Final = 300

TokenSource = Callable[[bool], str | None]
"""Returns the TikTok access token; `True` asks for a fresh read that bypasses the cache."""

Timeouts = tuple[float, float]
"""(connect, read) seconds for one POST; the whole POST, answer included, ends within their sum."""


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
    """TikTok's message, with anything like an email address or phone number masked."""
    request_id: str | None
    data: object = None
    """TikTok's `data` as parsed JSON: a partial success (20001) names its failed events there."""

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
    when no time is left for one (the outcome is then DEADLINE_EXCEEDED); a POST whose whole answer
    has not arrived within their sum is cut off (TIMEOUT), however slowly the bytes keep coming.
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
    except PostTimedOutError:  # a timeout, or the deadline on the whole answer
        return Sent(outcome=TIMEOUT, answer=None, token=token, posts=1)
    except PostFailedError:
        return Sent(outcome=CONNECTION_ERROR, answer=None, token=token, posts=1)
    latency_ms = (time.perf_counter() - started) * 1000
    return Sent(outcome=answer.outcome, answer=answer, token=token, posts=1, latencies_ms=(latency_ms,))


def encode_request_body(body: Mapping[str, object]) -> bytes:
    """A request body as compact JSON bytes (orjson; the standard library for what it refuses)."""
    try:
        return orjson.dumps(body)
    except TypeError:  # e.g. a lone surrogate in a configured static value
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def reset_session() -> None:
    """Forget the container's session (the next POST opens a new connection)."""
    http_session.reset_session()


def _post(url: str, access_token: str, body: bytes, timeout: Timeouts) -> TikTokAnswer:
    """One POST; raises `http_session.PostFailedError` when no HTTP answer arrives."""
    headers = {"Access-Token": access_token, "Content-Type": "application/json"}
    response = post_within(url, data=body, headers=headers, timeout=timeout, deadline_s=sum(timeout))
    return _read_answer(response)


def _read_answer(response: HttpAnswer) -> TikTokAnswer:
    code: int | None = None
    message = ""
    request_id: str | None = None
    data: object = None
    try:
        document = json.loads(response.content)
    except ValueError:
        document = None
    if isinstance(document, dict):
        raw_code = document.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        message = str(document.get("message") or "")
        raw_request_id = document.get("request_id")
        request_id = str(raw_request_id) if raw_request_id is not None else None
        data = document.get("data")
    else:
        message = response.reason or ""
    # Masked before the final cut: a cut could leave half an address that no longer looks like one.
    message = mask_personal_data(message[: _MESSAGE_LIMIT * 4])[:_MESSAGE_LIMIT]
    return TikTokAnswer(
        http_status=response.status_code, code=code, message=message, request_id=request_id, data=data
    )

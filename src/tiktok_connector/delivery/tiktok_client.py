"""HTTP client for TikTok's Events API 2.0 track route: one kept-alive session per container."""

import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import orjson
import requests
from requests.adapters import HTTPAdapter

RETRYABLE_HTTP_STATUSES: Final = frozenset({408, 429})
RETRYABLE_CODES: Final = frozenset({40100, 50000, 50002})
TOKEN_REJECTED_CODE: Final = 40105
_MESSAGE_LIMIT: Final = 300

_session: requests.Session | None = None


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    TOKEN_REJECTED = "token_rejected"  # noqa: S105 - a verdict name, not a secret
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class TikTokAnswer:
    """What TikTok answered. Business errors come with HTTP 200 and a non-zero `code`."""

    http_status: int
    code: int | None
    message: str
    request_id: str | None

    @property
    def verdict(self) -> Verdict:
        if self.http_status in RETRYABLE_HTTP_STATUSES or self.http_status >= 500:
            return Verdict.RETRY
        if self.code == TOKEN_REJECTED_CODE:
            return Verdict.TOKEN_REJECTED
        if self.http_status == 200:
            if self.code == 0:
                return Verdict.DELIVERED
            # An unreadable 200 is retried: TikTok deduplicates by event_id if it did accept it.
            if self.code is None or self.code in RETRYABLE_CODES:
                return Verdict.RETRY
        return Verdict.REJECTED


class TransportError(Exception):
    """No answer from TikTok: `kind` is `timeout` or `connection_error` (both retryable)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


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


def post_events(url: str, access_token: str, body: bytes, timeout: tuple[float, float]) -> TikTokAnswer:
    """POST one request body; raises TransportError when no HTTP answer arrives."""
    headers = {"Access-Token": access_token, "Content-Type": "application/json"}
    try:
        response = session(url).post(url, data=body, headers=headers, timeout=timeout)
    except requests.Timeout as error:
        raise TransportError("timeout", type(error).__name__) from None
    except requests.RequestException as error:
        raise TransportError("connection_error", type(error).__name__) from None
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

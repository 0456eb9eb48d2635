"""What the sandbox's answers are made of: paths, TikTok's return codes and wording, the answer envelope."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final, NoReturn

TRACK_PATH: Final = "/open_api/v1.3/event/track/"
CONTROL_PREFIX: Final = "/_sandbox/"
DEFAULT_ACCESS_TOKEN: Final = "local-sandbox-token"
MAX_EVENTS_PER_REQUEST: Final = 1000
# TikTok's byte limit is undocumented; this cap only protects the sandbox's memory (1,000 events of a
# realistic size are well under 2 MiB).
MAX_BODY_BYTES: Final = 32 * 1024 * 1024

CODE_OK: Final = 0
CODE_PARTIAL_SUCCESS: Final = 20001
CODE_INVALID_PARAMETER: Final = 40002
CODE_RATE_LIMITED: Final = 40100
CODE_TOKEN_INVALID: Final = 40105

# Messages as TikTok words them (seen in peers' recorded answers), used when a fault brings none.
CODE_MESSAGES: Final[Mapping[int, str]] = {
    CODE_OK: "OK",
    CODE_PARTIAL_SUCCESS: "Partial success",
    40001: "No permission to operate pixel code. You must be an admin or operator of this advertiser "
    "account.",
    CODE_INVALID_PARAMETER: "Invalid parameter.",
    CODE_RATE_LIMITED: "Too many requests. Please retry in some time.",
    CODE_TOKEN_INVALID: "Access token is incorrect or has been revoked.",
    50000: "System error",
    50002: "Error processing request on TikTok side. Please see error message for details.",
}

# The currencies TikTok Events API 2.0 documents; any other rejects the whole request.
_CURRENCY_LIST: Final = """
    AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ HKD HNL HUF IDR
    ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN PYG QAR RON
    RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR
"""
TIKTOK_CURRENCIES: Final = frozenset(_CURRENCY_LIST.split())

# nginx's wording, because that is what sits in front of TikTok and answers 502/503/504 with HTML.
NGINX_PHRASES: Final[Mapping[int, str]] = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def request_id() -> str:
    """A request id shaped like TikTok's: a UTC timestamp followed by hex (clients only log it)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + uuid.uuid4().hex[:18].upper()


def envelope(code: int, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """TikTok's answer body: ``{"code", "message", "request_id", "data"}``."""
    return {"code": code, "message": message, "request_id": request_id(), "data": data or {}}


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN/Infinity; JSON (and TikTok) do not.
    raise ValueError(f"invalid JSON constant {name}")


def parse_json(raw: bytes) -> tuple[bool, Any]:
    """Return ``(True, value)`` for a valid UTF-8 JSON document, else ``(False, None)``."""
    try:
        return True, json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None

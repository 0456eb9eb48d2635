"""Fault descriptions: checked once when queued, so a mistake is reported instead of silently ignored.

A fault is a JSON object with a ``kind``:

``{"kind": "tiktok_code", "code": 40100, "message": "..."}``
    HTTP 200 with that TikTok code (``message`` optional: TikTok's wording for known codes).
``{"kind": "http_status", "status": 503, "retry_after": 1}``
    That HTTP status (``retry_after`` optional); 502/503/504 answer nginx-style HTML, others JSON.
``{"kind": "delay", "seconds": 2.5}``
    Wait, then answer normally.
``{"kind": "drip", "seconds_per_byte": 1.0, "body_only": false}``
    Answer normally, but write the HTTP answer one byte at a time with ``seconds_per_byte`` (default 1)
    before each byte: the whole answer (status line, headers and body), or with ``body_only`` the
    headers at once and then the body drop by drop. A client that waits per read never times out; only
    a deadline on the whole answer stops it.
``{"kind": "reset"}``
    Drop the connection with a TCP RST instead of answering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

from devstack.tiktok_sandbox.protocol import CODE_MESSAGES

FAULT_KINDS: Final = ("tiktok_code", "http_status", "delay", "drip", "reset")
MAX_DELAY_SECONDS: Final = 600.0
DEFAULT_SECONDS_PER_BYTE: Final = 1.0


def _seconds(value: object, what: str, *, positive: bool = False) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{what} must be a number of seconds")
    above_low = value > 0 if positive else value >= 0
    if not (above_low and value <= MAX_DELAY_SECONDS):  # written so that NaN fails too
        low = "above 0" if positive else "from 0"
        raise ValueError(f"{what} must be {low} up to {MAX_DELAY_SECONDS:g} seconds")
    return float(value)


def normalize_fault(fault: object) -> dict[str, Any]:
    """Validate a fault and return a canonical copy with defaults filled in.

    Raises ``ValueError`` with a readable reason so both the Python API and the control API can report
    a mistake.
    """
    if not isinstance(fault, Mapping):
        raise ValueError(f"a fault must be a JSON object, got {type(fault).__name__}")
    spec = cast(Mapping[str, Any], fault)
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}; got {kind!r}")

    def allow(*keys: str) -> None:
        unknown = sorted(set(spec) - {"kind", *keys})
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)} in {kind} fault")

    if kind == "tiktok_code":
        allow("code", "message")
        code = spec.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise ValueError("tiktok_code fault needs an integer 'code'")
        message = spec.get("message", CODE_MESSAGES.get(code, "Error."))
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
        return {"kind": kind, "seconds": _seconds(spec.get("seconds"), "delay fault 'seconds'")}
    if kind == "drip":
        allow("seconds_per_byte", "body_only")
        seconds = _seconds(
            spec.get("seconds_per_byte", DEFAULT_SECONDS_PER_BYTE),
            "drip fault 'seconds_per_byte'",
            positive=True,
        )
        body_only = spec.get("body_only", False)
        if not isinstance(body_only, bool):
            raise ValueError("drip fault 'body_only' must be a boolean")
        return {"kind": kind, "seconds_per_byte": seconds, "body_only": body_only}
    allow()
    return {"kind": kind}


def normalize_event_ids(event_ids: Iterable[str], what: str) -> frozenset[str]:
    """Check a collection of event ids (a bare string is refused: it would be taken letter by letter)."""
    if isinstance(event_ids, str | bytes | Mapping):
        raise TypeError(f"{what} must be a list of event ids, not a single value")
    ids = tuple(event_ids)
    if not all(isinstance(event_id, str) and event_id for event_id in ids):
        raise ValueError(f"every event id in {what} must be a non-empty string")
    return frozenset(ids)

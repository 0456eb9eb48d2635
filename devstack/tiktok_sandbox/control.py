"""The control API: drive a running sandbox over HTTP from another process (same port, ``/_sandbox/``).

===========================================  =====================================================
``GET  /_sandbox/requests``                   recorded track requests (``RecordedRequest.to_dict``)
``GET  /_sandbox/stats``                      counters (``TikTokSandbox.stats``)
``POST /_sandbox/faults``                     queue a JSON list of faults (``fail_next``)
``POST /_sandbox/random_faults``              ``{"rate", "faults", "seed"}`` (``set_random_faults``)
``PUT  /_sandbox/rejected_events``            a JSON list of event ids (``set_rejected_events``)
``PUT  /_sandbox/partial_failures``           a JSON list of event ids, or ``{"event_ids": [...],
                                              "message": "..."}`` (``set_partial_failures``)
``PUT  /_sandbox/tokens``                     a JSON list of access tokens (``set_access_tokens``)
``POST /_sandbox/reset``                      forget requests, faults and marks (``reset``)
===========================================  =====================================================

A mistake is answered 400 ``{"error": "bad_request", "message": ...}``, an unknown route 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from devstack.tiktok_sandbox.marks import DEFAULT_FAILURE_MESSAGE
from devstack.tiktok_sandbox.protocol import parse_json

if TYPE_CHECKING:
    from devstack.tiktok_sandbox.sandbox import TikTokSandbox

_Route = Callable[["TikTokSandbox", bytes], object]


def _json(raw: bytes) -> Any:
    ok, value = parse_json(raw)
    if not ok:
        raise ValueError("request body is not valid JSON")
    return value


def _json_list(raw: bytes, what: str) -> list[Any]:
    value = _json(raw)
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON list of {what}")
    return value


def _requests(sandbox: TikTokSandbox, raw: bytes) -> object:
    return [request.to_dict() for request in sandbox.requests()]


def _stats(sandbox: TikTokSandbox, raw: bytes) -> object:
    return sandbox.stats()


def _faults(sandbox: TikTokSandbox, raw: bytes) -> object:
    faults = _json_list(raw, "faults")
    sandbox.fail_next(*faults)
    return {"queued": len(faults)}


def _random_faults(sandbox: TikTokSandbox, raw: bytes) -> object:
    spec = _json(raw)
    if not isinstance(spec, dict):
        raise ValueError('expected {"rate": float, "faults": [...], "seed": int | null}')
    sandbox.set_random_faults(spec.get("rate", 0), spec.get("faults", []), spec.get("seed"))
    return {"ok": True}


def _rejected_events(sandbox: TikTokSandbox, raw: bytes) -> object:
    event_ids = _json_list(raw, "event ids")
    sandbox.set_rejected_events(event_ids)
    return {"rejected_events": len(set(event_ids))}


def _partial_failures(sandbox: TikTokSandbox, raw: bytes) -> object:
    spec = _json(raw)
    if isinstance(spec, list):
        event_ids = spec
        sandbox.set_partial_failures(event_ids)
    elif isinstance(spec, dict):
        unknown = sorted(set(spec) - {"event_ids", "message"})
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}")
        event_ids = spec.get("event_ids", [])
        sandbox.set_partial_failures(event_ids, message=spec.get("message", DEFAULT_FAILURE_MESSAGE))
    else:
        raise ValueError('expected a JSON list of event ids or {"event_ids": [...], "message": str}')
    return {"partial_failures": len(set(event_ids))}


def _tokens(sandbox: TikTokSandbox, raw: bytes) -> object:
    tokens = _json_list(raw, "tokens")
    sandbox.set_access_tokens(tokens)
    return {"tokens": len(tokens)}


def _reset(sandbox: TikTokSandbox, raw: bytes) -> object:
    sandbox.reset()
    return {"ok": True}


_ROUTES: Final[Mapping[tuple[str, str], _Route]] = {
    ("GET", "/_sandbox/requests"): _requests,
    ("GET", "/_sandbox/stats"): _stats,
    ("POST", "/_sandbox/faults"): _faults,
    ("POST", "/_sandbox/random_faults"): _random_faults,
    ("PUT", "/_sandbox/rejected_events"): _rejected_events,
    ("PUT", "/_sandbox/partial_failures"): _partial_failures,
    ("PUT", "/_sandbox/tokens"): _tokens,
    ("POST", "/_sandbox/reset"): _reset,
}


def handle_control(sandbox: TikTokSandbox, method: str, path: str, raw: bytes) -> tuple[int, object]:
    """Run one control call; return the HTTP status and the JSON payload to answer."""
    route = _ROUTES.get((method, path.rstrip("/")))
    if route is None:
        return 404, {"error": "not_found", "message": f"No control route {method} {path}"}
    try:
        return 200, route(sandbox, raw)
    except (ValueError, TypeError) as exc:
        return 400, {"error": "bad_request", "message": str(exc)}

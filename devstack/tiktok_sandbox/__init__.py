"""A local stand-in for TikTok's Events API 2.0 track route.

``TikTokSandbox`` runs a real HTTP/1.1 server on 127.0.0.1 that answers
``POST /open_api/v1.3/event/track/`` the way TikTok Events API 2.0 documents it: business errors come back
as HTTP 200 with a non-zero ``code``, 40105 for a bad ``Access-Token``, 40002 naming the offending field
for an invalid body (``validation`` holds the documented field set and its rules: no stricter and no
looser than TikTok, so a client that passes here should pass there). Tests and the local demo talk to it
over sockets, so connection reuse, timeouts and resets behave as they would against the real service.

What a test can make it do (Python methods; the same over HTTP, see ``control``):

* ``fail_next(*faults)`` / ``set_random_faults(rate, faults, seed)``: rate limits, 5xx, slow answers,
  answers dripped one byte at a time, connection resets (formats in ``faults``).
* ``set_rejected_events(event_ids)``: refuse with 40002 every request carrying one of these events.
* ``set_partial_failures(event_ids, message)``: answer 20001 naming these events as failed.
  TikTok does not publicly document the per-event detail of a 20001 answer; the sandbox assumes
  ``{"code": 20001, "message": "Partial success", "request_id": "...", "data": {"failed_events":
  [{"index": <position in data>, "event_id": "<id>", "code": 40002, "message": "..."}]}}``
  (see ``marks``).
* ``set_access_tokens(tokens)``: rotate or revoke the token.

Every track request is recorded (``requests()``, ``accepted_events()``, ``stats()``) with its
``Access-Token`` redacted. ``python -m devstack.tiktok_sandbox`` runs one in the foreground.
"""

from devstack.tiktok_sandbox.cli import main
from devstack.tiktok_sandbox.protocol import (
    CODE_INVALID_PARAMETER,
    CODE_OK,
    CODE_PARTIAL_SUCCESS,
    CODE_RATE_LIMITED,
    CODE_TOKEN_INVALID,
    CONTROL_PREFIX,
    DEFAULT_ACCESS_TOKEN,
    MAX_EVENTS_PER_REQUEST,
    TIKTOK_CURRENCIES,
    TRACK_PATH,
)
from devstack.tiktok_sandbox.recorded import RecordedRequest
from devstack.tiktok_sandbox.sandbox import TikTokSandbox

__all__ = [
    "CODE_INVALID_PARAMETER",
    "CODE_OK",
    "CODE_PARTIAL_SUCCESS",
    "CODE_RATE_LIMITED",
    "CODE_TOKEN_INVALID",
    "CONTROL_PREFIX",
    "DEFAULT_ACCESS_TOKEN",
    "MAX_EVENTS_PER_REQUEST",
    "TIKTOK_CURRENCIES",
    "TRACK_PATH",
    "RecordedRequest",
    "TikTokSandbox",
    "main",
]

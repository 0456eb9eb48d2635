"""The request body checks TikTok applies to ``/event/track/``, as field tables.

Each table lists the fields TikTok Events API 2.0 documents for that object, with the check for its
value. A field outside the table, a value of the wrong type, a missing required field or a raw
(unhashed) identity makes TikTok refuse the whole request with code 40002 and a message naming the
field path (``data.3.properties.contents.0.content_id: Not a valid string``); ``validate_track_body``
raises ``InvalidBodyError`` with that message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Final, NoReturn, cast

from devstack.tiktok_sandbox.protocol import MAX_EVENTS_PER_REQUEST, TIKTOK_CURRENCIES

__all__ = ["InvalidBodyError", "validate_track_body"]


class InvalidBodyError(Exception):
    """A body TikTok would refuse with code 40002; ``str(exc)`` is the message, naming the field path."""


Checker = Callable[[object, str], object]
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _fail(path: str, problem: str) -> NoReturn:
    # Messages follow TikTok's (marshmallow-style) "<path>: <problem>" and never include the value, so
    # identities cannot leak into a client's logs or dead-letter records through this sandbox.
    raise InvalidBodyError(f"{path}: {problem}")


# -- scalar checks ----------------------------------------------------------------------------------


def _not_null(value: object, path: str) -> None:
    if value is None:
        _fail(path, "Field may not be null")


def _string(value: object, path: str) -> str:
    _not_null(value, path)
    if not isinstance(value, str):
        _fail(path, "Not a valid string")
    return value


def _non_empty_string(value: object, path: str) -> str:
    text = _string(value, path)
    if not text.strip():
        _fail(path, "Field may not be empty")
    return text


def _integer(value: object, path: str) -> int:
    _not_null(value, path)
    # bool is an int subclass in Python but not an integer in JSON.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(path, "Not a valid integer")
    return value


def _number(value: object, path: str) -> float:
    _not_null(value, path)
    if not isinstance(value, int | float) or isinstance(value, bool):
        _fail(path, "Not a valid number")
    try:
        return float(value)
    except OverflowError:  # an integer beyond a double: TikTok refuses it as a parameter error
        _fail(path, "Not a valid number")


def _boolean(value: object, path: str) -> bool:
    _not_null(value, path)
    if not isinstance(value, bool):
        _fail(path, "Not a valid boolean")
    return value


def _list(value: object, path: str) -> list[object]:
    _not_null(value, path)
    if not isinstance(value, list):
        _fail(path, "Not a valid list")
    return cast(list[object], value)


def _one_of(*allowed: str) -> Checker:
    def check(value: object, path: str) -> str:
        text = _string(value, path)
        if text not in allowed:
            _fail(path, f"Must be one of: {', '.join(allowed)}")
        return text

    return check


def _list_of(item: Checker) -> Checker:
    def check(value: object, path: str) -> list[object]:
        items = _list(value, path)
        for index, element in enumerate(items):
            item(element, _join(path, index))
        return items

    return check


def _sha256_hex(value: object, path: str) -> str:
    text = _string(value, path)
    if not _SHA256_HEX.fullmatch(text):
        _fail(path, "not a SHA-256 hash (64 lowercase hex characters)")
    return text


def _hashed_identity(value: object, path: str) -> object:
    # TikTok documents arrays of hashes; its own GTM template sends a single string, which is accepted too.
    if isinstance(value, list):
        items = cast(list[object], value)
        if not items:
            _fail(path, "Shorter than minimum length 1")
        for index, element in enumerate(items):
            _sha256_hex(element, _join(path, index))
        return items
    return _sha256_hex(value, path)


def _event_time(value: object, path: str) -> int:
    seconds = _integer(value, path)
    if seconds >= 10**10:
        _fail(path, "looks like milliseconds; event_time must be a Unix timestamp in seconds")
    if seconds < 10**9:
        _fail(path, "Not a valid Unix timestamp in seconds")
    return seconds


def _page_url(value: object, path: str) -> str:
    url = _string(value, path)
    if not url.startswith(("http://", "https://")):
        _fail(path, "Not a valid URL (must start with http:// or https://)")
    return url


def _currency(value: object, path: str) -> str:
    code = _string(value, path)
    if code not in TIKTOK_CURRENCIES:
        _fail(path, "Not a supported currency code")
    return code


# -- objects ------------------------------------------------------------------------------------------


def _object(
    value: object, path: str, fields: Mapping[str, Checker], required: Sequence[str] = ()
) -> dict[str, object]:
    """Check a JSON object against a field table: unknown keys, required keys, then each field."""
    _not_null(value, path)
    if not isinstance(value, dict):
        _fail(path, "Not a valid mapping type")
    obj = cast(dict[str, object], value)
    for key in obj:
        if key not in fields:
            _fail(_join(path, key), "Unknown field")
    for key in required:
        if key not in obj:
            _fail(_join(path, key), "Missing data for required field")
    for key, item in obj.items():
        fields[key](item, _join(path, key))
    return obj


def _object_of(fields: Mapping[str, Checker], required: Sequence[str] = ()) -> Checker:
    def check(value: object, path: str) -> object:
        return _object(value, path, fields, required)

    return check


_CONTENT_TYPE: Final = _one_of("product", "product_group")

_CONTENT_FIELDS: Final[Mapping[str, Checker]] = {
    "content_id": _string,
    "content_name": _string,
    "content_category": _string,
    "content_type": _CONTENT_TYPE,
    "price": _number,
    "quantity": _integer,
    "brand": _string,
}

_PROPERTIES_FIELDS: Final[Mapping[str, Checker]] = {
    "contents": _list_of(_object_of(_CONTENT_FIELDS)),
    "content_type": _CONTENT_TYPE,
    "currency": _currency,
    "value": _number,
    "query": _string,
    "description": _string,
    "order_id": _string,
    "content_ids": _list_of(_string),
    "num_items": _integer,
    "search_string": _string,
    "shop_id": _string,
    "delivery_category": _string,
    "predicted_ltv": _number,
}

_USER_FIELDS: Final[Mapping[str, Checker]] = {
    # Identities and advanced matching: SHA-256 hashes only.
    "email": _hashed_identity,
    "phone": _hashed_identity,
    "external_id": _hashed_identity,
    "first_name": _sha256_hex,
    "last_name": _sha256_hex,
    "zip_code": _sha256_hex,
    # Sent as they are (TikTok normalises and does not want them hashed).
    "city": _string,
    "state": _string,
    "country": _string,
    "ip": _string,
    "user_agent": _string,
    "ttclid": _string,
    "ttp": _string,
    "locale": _string,
    # Mobile identifiers, documented for app events.
    "idfa": _string,
    "idfv": _string,
    "gaid": _string,
    "att_status": _one_of("AUTHORIZED", "DENIED", "NOT_DETERMINED", "RESTRICTED", "NOT_APPLICABLE"),
}

_PAGE_FIELDS: Final[Mapping[str, Checker]] = {"url": _page_url, "referrer": _string}

_LEAD_FIELDS: Final[Mapping[str, Checker]] = {"lead_id": _string, "lead_event_source": _string}

_APP_FIELDS: Final[Mapping[str, Checker]] = {"app_id": _string, "app_name": _string, "app_version": _string}

_AD_FIELDS: Final[Mapping[str, Checker]] = {
    "callback": _string,
    "campaign_id": _string,
    "ad_id": _string,
    "creative_id": _string,
    "is_retargeting": _boolean,
    "attributed": _boolean,
    "attribute_type": _string,
    "attribute_provider": _string,
}

_EVENT_FIELDS: Final[Mapping[str, Checker]] = {
    "event": _non_empty_string,
    "event_time": _event_time,
    "event_id": _string,
    "user": _object_of(_USER_FIELDS),
    "page": _object_of(_PAGE_FIELDS),
    "properties": _object_of(_PROPERTIES_FIELDS),
    "limited_data_use": _boolean,
    "lead": _object_of(_LEAD_FIELDS),
    "app": _object_of(_APP_FIELDS),
    "ad": _object_of(_AD_FIELDS),
}

_event: Final = _object_of(_EVENT_FIELDS, required=("event", "event_time"))


def _data(value: object, path: str) -> list[object]:
    events = _list(value, path)
    if not events:
        _fail(path, f"must contain between 1 and {MAX_EVENTS_PER_REQUEST} events")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        # TikTok rejects the whole request, not just the events past the limit.
        _fail(
            path,
            f"batch of {len(events)} events exceeds the limit of {MAX_EVENTS_PER_REQUEST} events per request",
        )
    for index, event in enumerate(events):
        _event(event, _join(path, index))
    return events


_TOP_LEVEL_FIELDS: Final[Mapping[str, Checker]] = {
    # The sandbox stands in for a web pixel, which is all this connector sends to.
    "event_source": _one_of("web"),
    "event_source_id": _non_empty_string,
    "test_event_code": _string,
    "partner_name": _string,
    "data": _data,
}


def validate_track_body(body: object) -> None:
    """Raise ``InvalidBodyError`` (its message names the field path) unless ``body`` is valid."""
    if not isinstance(body, dict):
        raise InvalidBodyError("Request body must be a JSON object")
    _object(body, "", _TOP_LEVEL_FIELDS, required=("event_source", "event_source_id", "data"))

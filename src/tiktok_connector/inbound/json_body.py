"""Request bodies decoded from JSON with 64-bit integers kept exact, for both routes."""

import json
import re
from typing import Final, NoReturn

import orjson

from tiktok_connector.platform.errors import BadRequestError

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def parse_json(body: bytes) -> object:
    """Decode a JSON body; integers stay exact (int64 ids never pass through a float).

    orjson is the fast path and keeps every 64-bit integer exact (mParticle's ids are int64); only an
    integer beyond 2^64, outside mParticle's contract, would become a float. What orjson refuses (lone
    surrogates, deep nesting, malformed text) is read again by the standard library, which names the
    exact problem of a malformed body.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return _without_lone_surrogates(json.loads(body, parse_constant=_reject_constant))
    except UnicodeDecodeError:
        raise BadRequestError("body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise BadRequestError(f"body is not valid JSON: {error.msg} at position {error.pos}") from None
    except ValueError as error:
        raise BadRequestError(f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequestError("body is not valid JSON: nested too deeply") from None


def _without_lone_surrogates(value: object) -> object:
    """A split emoji (`\\ud83d` alone) is valid JSON but not UTF-8: replace it with U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", value)
        return value
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")

"""Which match keys the TikTok events carry: how well TikTok can attribute them to a person.

Pure: reads the Events API 2.0 event payloads that mapping produced, never the inbound batches, so the
counts describe exactly what TikTok receives. The answer to mParticle, the metrics and the offline
preview all count with this one function.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from tiktok_connector.model.tiktok import TikTokRequest

SINGLE_KEYS: Final = ("email", "phone", "external_id", "ttclid", "ttp")
"""`user` fields that each make a match key on their own."""
IP_AND_USER_AGENT: Final = "ip_and_user_agent"
"""TikTok matches on the pair: an IP address alone or a user agent alone counts for nothing here."""
ADVANCED_MATCHING: Final = "advanced_matching"
ADVANCED_MATCHING_FIELDS: Final = ("first_name", "last_name", "city", "state", "country", "zip_code")
"""TikTok's advanced-matching `user` fields: any one of them counts the event once."""
MATCH_KEYS: Final = (*SINGLE_KEYS, IP_AND_USER_AGENT, ADVANCED_MATCHING)
"""Every key of the count, in the order the answer, metrics and preview show them."""


_KEY_BITS: Final = {
    **{name: 1 << index for index, name in enumerate(SINGLE_KEYS)},
    "ip": 1 << 5,
    "user_agent": 1 << 6,
    **dict.fromkeys(ADVANCED_MATCHING_FIELDS, 1 << 7),
}
"""The bit of each `user` field that counts towards a key (all advanced-matching fields share one)."""


def _keys_of(mask: int) -> tuple[str, ...]:
    keys = [name for name in SINGLE_KEYS if mask & _KEY_BITS[name]]
    if mask & _KEY_BITS["ip"] and mask & _KEY_BITS["user_agent"]:
        keys.append(IP_AND_USER_AGENT)
    if mask & _KEY_BITS[ADVANCED_MATCHING_FIELDS[0]]:
        keys.append(ADVANCED_MATCHING)
    return tuple(keys)


_KEYS_OF_MASK: Final = tuple(_keys_of(mask) for mask in range(1 << 8))
"""The match keys of each combination of fields, in `MATCH_KEYS` order."""


def user_key_mask(user: Mapping[str, object], names: Iterable[str] | None = None) -> int:
    """The fields of `user` that count towards a match key (of `names` only, when given), as bits: the
    mapper computes a batch's shared fields once, and each event's own on top."""
    mask = 0
    if names is None:
        for name, value in user.items():
            bit = _KEY_BITS.get(name)
            if bit is not None and _present(value):
                mask |= bit
    else:
        for name in names:
            value = user.get(name)
            if value is None:
                continue
            # A non-blank string (the usual value) without the call; anything else as `_present` says.
            if (value and not value.isspace()) if type(value) is str else _present(value):
                mask |= _KEY_BITS[name]
    return mask


def count_key_masks(masks: Mapping[int, int]) -> dict[str, int]:
    """How many events carry each match key, from the number of events per `user_key_mask`; every key is
    present, zeros included."""
    counts = dict.fromkeys(MATCH_KEYS, 0)
    for mask, events in masks.items():
        for key in _KEYS_OF_MASK[mask]:
            counts[key] += events
    return counts


def count_match_keys(events: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """How many of the events carry each match key; every key is present, zeros included."""
    masks: Counter[int] = Counter()
    for event in events:
        user = event.get("user")
        masks[user_key_mask(user) if isinstance(user, Mapping) else 0] += 1
    return count_key_masks(masks)


def event_match_keys(event: Mapping[str, object]) -> list[str]:
    """The match keys one TikTok event payload carries (an empty value carries nothing)."""
    user = event.get("user")
    return list(_KEYS_OF_MASK[user_key_mask(user)]) if isinstance(user, Mapping) else []


def request_events(requests: Iterable[TikTokRequest]) -> Iterator[Mapping[str, object]]:
    """The event payloads of request bodies (their `data` arrays), in order."""
    for request in requests:
        data = request.body.get("data")
        if isinstance(data, list):
            yield from (event for event in data if isinstance(event, Mapping))


def _present(value: object) -> bool:
    """TikTok accepts a string or a list of strings for its identity fields."""
    if value is None:
        return False
    if type(value) is str:  # the usual case first
        return bool(value) and not value.isspace()
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple):
        return any(_present(item) for item in value)
    return True

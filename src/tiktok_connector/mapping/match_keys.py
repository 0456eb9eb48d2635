"""Which match keys the TikTok events carry: how well TikTok can attribute them to a person.

Pure: reads the Events API 2.0 event payloads that mapping produced, never the inbound batches, so the
counts describe exactly what TikTok receives. The answer to mParticle, the metrics and the offline
preview all count with this one function.
"""

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


def count_match_keys(events: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """How many of the events carry each match key; every key is present, zeros included."""
    counts = dict.fromkeys(MATCH_KEYS, 0)
    for event in events:
        for key in event_match_keys(event):
            counts[key] += 1
    return counts


def event_match_keys(event: Mapping[str, object]) -> list[str]:
    """The match keys one TikTok event payload carries (an empty value carries nothing)."""
    user = event.get("user")
    if not isinstance(user, Mapping):
        return []
    keys = [key for key in SINGLE_KEYS if _present(user.get(key))]
    if _present(user.get("ip")) and _present(user.get("user_agent")):
        keys.append(IP_AND_USER_AGENT)
    if any(_present(user.get(name)) for name in ADVANCED_MATCHING_FIELDS):
        keys.append(ADVANCED_MATCHING)
    return keys


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
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple):
        return any(_present(item) for item in value)
    return True

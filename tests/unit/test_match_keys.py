"""Match-key counts read from TikTok event payloads: which keys an event carries, and how many events."""

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiktok_connector.mapping.match_keys import (
    MATCH_KEYS,
    count_match_keys,
    event_match_keys,
    request_events,
)
from tiktok_connector.model.tiktok import SourceRef, TikTokRequest

HASH = "a" * 64
ZEROS = dict.fromkeys(MATCH_KEYS, 0)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({}, []),
        ({"email": HASH}, ["email"]),
        ({"phone": HASH}, ["phone"]),
        ({"external_id": HASH}, ["external_id"]),
        ({"ttclid": "E.C.P.abc"}, ["ttclid"]),
        ({"ttp": "2aBcD.1700000000"}, ["ttp"]),
        ({"ip": "203.0.113.24"}, []),
        ({"user_agent": "Mozilla/5.0"}, []),
        ({"ip": "203.0.113.24", "user_agent": "Mozilla/5.0"}, ["ip_and_user_agent"]),
        ({"first_name": HASH}, ["advanced_matching"]),
        ({"last_name": HASH}, ["advanced_matching"]),
        ({"zip_code": HASH}, ["advanced_matching"]),
        ({"city": "paris"}, ["advanced_matching"]),
        ({"state": "ca"}, ["advanced_matching"]),
        ({"country": "us"}, ["advanced_matching"]),
        ({"first_name": HASH, "city": "paris", "country": "fr"}, ["advanced_matching"]),
        ({"locale": "en-US"}, []),
        # Empty values carry nothing: an empty string, white space, an empty list, null
        ({"email": "", "phone": "  ", "external_id": [], "ttclid": None}, []),
        ({"ip": "", "user_agent": "Mozilla/5.0"}, []),
        ({"first_name": "", "zip_code": None}, []),
        # TikTok also accepts a list of hashed values per identity field
        ({"email": [HASH, HASH]}, ["email"]),
        ({"email": ["", " "]}, []),
        (
            {
                "email": HASH,
                "phone": HASH,
                "external_id": HASH,
                "ttclid": "E.C.P.abc",
                "ttp": "cookie",
                "ip": "203.0.113.24",
                "user_agent": "Mozilla/5.0",
                "last_name": HASH,
            },
            list(MATCH_KEYS),
        ),
    ],
)
def test_the_match_keys_of_one_event(user: dict[str, object], expected: list[str]) -> None:
    assert event_match_keys({"event": "PlaceAnOrder", "user": user}) == expected


@pytest.mark.parametrize("event", [{}, {"user": None}, {"user": "not an object"}, {"user": [HASH]}])
def test_an_event_without_a_user_object_carries_no_key(event: Mapping[str, object]) -> None:
    assert event_match_keys(event) == []


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        ([], {}),
        ([{}], {}),
        ([{"email": HASH}, {"email": HASH, "phone": HASH}, {"phone": HASH}], {"email": 2, "phone": 2}),
        (
            [
                {"external_id": HASH, "ip": "203.0.113.24", "user_agent": "UA"},
                {"external_id": HASH, "ip": "203.0.113.24"},
                {"ttp": "cookie", "city": "berlin"},
            ],
            {"external_id": 2, "ip_and_user_agent": 1, "ttp": 1, "advanced_matching": 1},
        ),
    ],
)
def test_counts_over_events_always_name_all_seven_keys(
    users: list[dict[str, object]], expected: dict[str, int]
) -> None:
    counts = count_match_keys({"user": user} for user in users)
    assert list(counts) == [
        "email",
        "phone",
        "external_id",
        "ttclid",
        "ttp",
        "ip_and_user_agent",
        "advanced_matching",
    ]
    assert counts == {**ZEROS, **expected}


def test_request_events_reads_the_data_of_each_request_in_order() -> None:
    first = TikTokRequest(
        body={"event_source": "web", "data": [{"event_id": "1"}, {"event_id": "2"}]},
        sources=[SourceRef("1"), SourceRef("2")],
    )
    second = TikTokRequest(
        body={"event_source": "web", "data": [{"event_id": "3"}]}, sources=[SourceRef("3")]
    )
    broken = TikTokRequest(body={"event_source": "web", "data": "not a list"}, sources=[])
    assert [event["event_id"] for event in request_events([first, broken, second])] == ["1", "2", "3"]


_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "\u2003", "x", HASH, " y "]),
    st.lists(st.sampled_from(["", " ", HASH]), max_size=3),
    st.integers(),
)
_USERS = st.dictionaries(
    st.sampled_from([*MATCH_KEYS, "ip", "user_agent", "first_name", "city", "zip_code", "locale", "other"]),
    _VALUES,
)


@given(st.lists(st.one_of(_USERS, st.none(), st.just("not an object")), max_size=6))
def test_counts_are_the_sum_of_each_events_keys(users: list[object]) -> None:
    events = [{"user": user} for user in users]
    expected = dict(ZEROS)
    for event in events:
        for key in event_match_keys(event):
            expected[key] += 1

    assert count_match_keys(events) == expected

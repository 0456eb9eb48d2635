"""Match quality and consent, case by case, each case sent through both routes.

`test_fields.py` has one case per TikTok field; here are the other ways each signal can arrive (a click
id only in the landing URL, a locale without a country, pre-hashed names, ...), the consent rules, and
every setting's default and alternatives. Each case is described once for the Webhook batch and once for
the Firehose request (with each route's own names) and must give the same outcome and the same TikTok
event on both.
"""

import copy
import dataclasses
import json
from typing import Any, Final

import pytest

from tests.unit.test_fields import URL, firehose_request, merge, sha256, webhook_batch
from tiktok_connector.inbound.firehose import parse_event_processing_request
from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping.mapper import MappingResult, map_batches
from tiktok_connector.mapping.match_keys import count_match_keys
from tiktok_connector.mapping.settings import MappingSettings, MatchSettings
from tiktok_connector.mapping.vocabulary import NATIVE_COMMERCE_EVENTS

MISSING: Final = "<left out>"
CLICK_ID = "E.C.P.v3fQ2RHacdksKfofPmlyuStIIHJ4Af1tKYxF9zz2c2PLx1Oaw15oHpcfl5AH"
TTP = "2F7h37YkS1j57AYSKTI7IHhJPYH"
NO_IDENTITIES: Final[dict[str, Any]] = {"user_identities": []}


@dataclasses.dataclass(frozen=True)
class Case:
    """One situation on both routes: what each sends (as in `test_fields.FieldCase`) and what follows."""

    name: str
    webhook: dict[str, Any]
    """Merged into the Webhook batch: `batch` keys, `data` of its event."""
    firehose: dict[str, Any]
    """Merged into the Firehose request: `request` keys, `event` its event."""
    expected: dict[str, object] = dataclasses.field(default_factory=dict)
    """TikTok field path → value, or MISSING: the field is left out."""
    match: MatchSettings = dataclasses.field(default_factory=MatchSettings)
    skipped: str | None = None
    """The skip reason, when the event is not forwarded."""
    warnings: dict[str, int] = dataclasses.field(default_factory=dict)
    products: list[dict[str, Any]] | None = None
    """When set, the event's products on both routes."""


def same_everywhere(name: str, changes: dict[str, Any], **outcome: Any) -> Case:
    """A case whose event changes are spelt the same on both routes (custom flags)."""
    return Case(name, {"data": changes["event"]}, {"event": changes["event"]}, **outcome)


def consent(part: str, purpose: str, consented: bool, firehose_name: str | None = None) -> tuple[Any, Any]:
    """The same consent state for the Webhook (`ccpa`/`gdpr`) and Firehose (either spelling)."""
    entry = {purpose: {"consented": consented, "timestamp_unixtime_ms": 1741000000000}}
    return (
        {"batch": {"consent_state": {part: entry}}},
        {"request": {"consent_state": {firehose_name or part: entry}}},
    )


def with_flags(**flags: str) -> dict[str, Any]:
    return {
        "event": {
            "custom_flags": {"TikTok.URL": URL, **{name.replace("_", "."): v for name, v in flags.items()}}
        }
    }


OPTED_OUT_WEBHOOK, OPTED_OUT_FIREHOSE = consent("ccpa", "data_sale_opt_out", True, "ccpa_consent_state")
OPTED_IN_WEBHOOK, OPTED_IN_FIREHOSE = consent("ccpa", "data_sale_opt_out", False, "ccpa")
MARKETING_WEBHOOK, MARKETING_FIREHOSE = consent("gdpr", "Marketing", True, "gdpr_consent_state")
NO_MARKETING_WEBHOOK, NO_MARKETING_FIREHOSE = consent("gdpr", "marketing", False, "gdpr")


def anonymous(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A user without identities, with these event changes."""
    return (
        {"batch": NO_IDENTITIES, "data": changes["event"]},
        {"request": NO_IDENTITIES, "event": changes["event"]},
    )


SIGNAL_CASES = [
    # -- user.ttclid: the callback flag first, else the landing URL's `ttclid` parameter -------------------
    same_everywhere(
        "ttclid from the landing URL",
        with_flags(TikTok_URL=f"{URL}?utm_source=tiktok&ttclid={CLICK_ID}"),
        expected={"user.ttclid": CLICK_ID, "page.url": f"{URL}?utm_source=tiktok&ttclid={CLICK_ID}"},
    ),
    same_everywhere(
        "the callback flag wins over the URL",
        with_flags(TikTok_URL=f"{URL}?ttclid=E.C.P.from-url", TikTok_Callback="E.C.P.from-flag"),
        expected={"user.ttclid": "E.C.P.from-flag"},
    ),
    same_everywhere(
        "an invalid callback falls back to the URL, counted",
        with_flags(TikTok_URL=f"{URL}?ttclid=E.C.P.from-url", TikTok_Callback="dummy"),
        expected={"user.ttclid": "E.C.P.from-url"},
        warnings={"invalid_ttclid": 1},
    ),
    same_everywhere(
        "a URL ttclid that is no click id is left out, counted",
        with_flags(TikTok_URL=f"{URL}?ttclid=12345"),
        expected={"user.ttclid": MISSING},
        warnings={"invalid_ttclid": 1},
    ),
    same_everywhere(
        "a percent-encoded URL ttclid is decoded",
        with_flags(TikTok_URL=f"{URL}?ttclid=E.C.P.a%2Fb%3D&x=1"),
        expected={"user.ttclid": "E.C.P.a/b="},
    ),
    same_everywhere(
        "an empty URL ttclid is no click id",
        with_flags(TikTok_URL=f"{URL}?ttclid=&x=1"),
        expected={"user.ttclid": MISSING},
    ),
    # -- user.ttp: the _ttp cookie value, as is ------------------------------------------------------------
    same_everywhere(
        "a blank ttp flag is left out", with_flags(TikTok_TTP="  "), expected={"user.ttp": MISSING}
    ),
    same_everywhere(
        "ttp is sent as is, never hashed",
        with_flags(TikTok_TTP=f"{TTP}.1741954212"),
        expected={"user.ttp": f"{TTP}.1741954212"},
    ),
    # -- user.locale -----------------------------------------------------------------------------------------
    Case(
        "a language without a country",
        {"batch": {"device_info": {"locale_language": "DE"}}},
        {"request": {"runtime_environment": {"locale_language": "de"}}},
        expected={"user.locale": "de"},
    ),
    Case(
        "a country without a language is no locale",
        {"batch": {"device_info": {"locale_country": "US"}}},
        {"request": {"runtime_environment": {"locale_country": "en_US"}}},
        expected={"user.locale": MISSING},
    ),
    Case(
        "both spellings of a country: `GB` and `en_GB`",
        {"batch": {"device_info": {"locale_language": "en", "locale_country": "en_GB"}}},
        {"request": {"runtime_environment": {"locale_language": "en", "locale_country": "GB"}}},
        expected={"user.locale": "en-GB"},
    ),
    # -- advanced matching -----------------------------------------------------------------------------------
    Case(
        "every reserved attribute at once, as the Firehose SDK example carries them",
        {
            "batch": {
                "user_attributes": {
                    "$City": "Boca Raton",
                    "$FirstName": "Brian",
                    "$Country": "USA",
                    "$State": "FL",
                    "$Zip": "33431",
                    "$Gender": "M",
                    "$LastName": "O'Brian",
                }
            }
        },
        {
            "request": {
                "user_attributes": {
                    "$city": "Boca Raton",
                    "$firstname": "Brian",
                    "$country": "USA",
                    "$state": "FL",
                    "$zip": 33431,
                    "$lastname": "O'Brian",
                }
            }
        },
        expected={
            "user.first_name": sha256("brian"),
            "user.last_name": sha256("o'brian"),
            "user.zip_code": sha256("33431"),
            "user.city": "bocaraton",
            "user.state": "fl",
            "user.country": "usa",
        },
    ),
    Case(
        "a pre-hashed name passes through lower-cased",
        {"batch": {"user_attributes": {"$FirstName": sha256("brian").upper()}}},
        {"request": {"user_attributes": {"$FirstName": sha256("brian")}}},
        expected={"user.first_name": sha256("brian")},
    ),
    Case(
        "of `$FirstName` and `$firstname` the first counts",
        {"batch": {"user_attributes": {"$FirstName": "Brian", "$firstname": "Other"}}},
        {"request": {"user_attributes": {"$firstname": "Brian", "$FirstName": "Other"}}},
        expected={"user.first_name": sha256("brian")},
    ),
    Case(
        "an address part with no ASCII letter or digit is left out",
        {"batch": {"user_attributes": {"$City": "東京", "$State": " - "}}},
        {"request": {"user_attributes": {"$City": "東京", "$State": "-"}}},
        expected={"user.city": MISSING, "user.state": MISSING},
    ),
    Case(
        "blank and list attributes are left out",
        {"batch": {"user_attributes": {"$FirstName": "  ", "$LastName": ["Doe"], "$Zip": " "}}},
        {"request": {"user_attributes": {"$FirstName": "", "$LastName": ["Doe"]}}},
        expected={"user.first_name": MISSING, "user.last_name": MISSING, "user.zip_code": MISSING},
    ),
    Case(
        "other user attributes are never sent",
        {"batch": {"user_attributes": {"loyalty_tier": "gold", "$Gender": "F", "$Mobile": "+14155550123"}}},
        {"request": {"user_attributes": {"loyalty_tier": "gold", "$Gender": "F", "$Mobile": "+14155550123"}}},
        expected={"user.gender": MISSING, "user.loyalty_tier": MISSING, "user.phone": MISSING},
    ),
    # -- brand and content_ids -----------------------------------------------------------------------------
    same_everywhere(
        "content_ids follow the items in order, without the products that have no id",
        {"event": {}},
        products=[{"id": "A", "brand": "Acme"}, {"name": "no id"}, {"id": 7}],
        expected={
            "properties.content_ids": ["A", "7"],
            "properties.contents": [
                {"content_id": "A", "brand": "Acme"},
                {"content_name": "no id"},
                {"content_id": "7"},
            ],
        },
    ),
]

LDU_CASES = [
    # -- limited_data_use: LIMITED_DATA_USE=consent (default), always, never ------------------------------
    Case(
        "consent: opted out of data sale", OPTED_OUT_WEBHOOK, OPTED_OUT_FIREHOSE, {"limited_data_use": True}
    ),
    Case("consent: not opted out", OPTED_IN_WEBHOOK, OPTED_IN_FIREHOSE, {"limited_data_use": MISSING}),
    Case("consent: no consent state", {}, {}, {"limited_data_use": MISSING}),
    Case(
        "consent: a GDPR purpose is no CCPA opt-out",
        *consent("gdpr", "data_sale_opt_out", True),
        {"limited_data_use": MISSING},
    ),
    Case(
        "consent: a consent state that is not an object",
        {"batch": {"consent_state": "opted out"}},
        {"request": {"consent_state": ["opted out"]}},
        {"limited_data_use": MISSING},
    ),
    Case(
        "always: without consent state",
        {},
        {},
        {"limited_data_use": True},
        MatchSettings(limited_data_use="always"),
    ),
    Case(
        "always: not opted out",
        OPTED_IN_WEBHOOK,
        OPTED_IN_FIREHOSE,
        {"limited_data_use": True},
        MatchSettings(limited_data_use="always"),
    ),
    Case(
        "never: even opted out",
        OPTED_OUT_WEBHOOK,
        OPTED_OUT_FIREHOSE,
        {"limited_data_use": MISSING},
        MatchSettings(limited_data_use="never"),
    ),
]

MARKETING = MatchSettings(gdpr_consent_purpose="marketing")
GDPR_CASES = [
    # -- GDPR_CONSENT_PURPOSE: required consent, else `no_consent` ------------------------------------------
    Case("no purpose required: no consent state", {}, {}, {"event": "PlaceAnOrder"}),
    Case(
        "no purpose required: consent refused",
        NO_MARKETING_WEBHOOK,
        NO_MARKETING_FIREHOSE,
        {"event": "PlaceAnOrder"},
    ),
    Case("purpose given", MARKETING_WEBHOOK, MARKETING_FIREHOSE, {"event": "PlaceAnOrder"}, MARKETING),
    Case(
        "purpose refused", NO_MARKETING_WEBHOOK, NO_MARKETING_FIREHOSE, match=MARKETING, skipped="no_consent"
    ),
    Case("no consent state", {}, {}, match=MARKETING, skipped="no_consent"),
    Case(
        "another purpose given",
        *consent("gdpr", "analytics", True, "gdpr_consent_state"),
        match=MARKETING,
        skipped="no_consent",
    ),
    Case(
        "consented is not a boolean",
        *consent("gdpr", "marketing", "yes", "gdpr"),  # type: ignore[arg-type]
        match=MARKETING,
        skipped="no_consent",
    ),
    Case(
        "a CCPA entry of the same name is no GDPR consent",
        *consent("ccpa", "marketing", True),
        match=MARKETING,
        skipped="no_consent",
    ),
    # order: after unsupported_event, before no_identifiers and invalid_page_url
    Case(
        "unsupported_event comes first",
        {"data": {"product_action": {"action": "refund"}}},
        {"event": {"action": "refund"}},
        match=MARKETING,
        skipped="unsupported_event",
    ),
    Case(
        "no_consent before no_identifiers and invalid_page_url",
        {"batch": NO_IDENTITIES, "data": {"custom_flags": {"TikTok.URL": "not a url"}}},
        {"request": NO_IDENTITIES, "event": {"custom_flags": {"TikTok.URL": "not a url"}}},
        match=MARKETING,
        skipped="no_consent",
    ),
    Case(
        "with consent, no_identifiers comes next",
        {**MARKETING_WEBHOOK, "batch": {**MARKETING_WEBHOOK["batch"], **NO_IDENTITIES}},
        {**MARKETING_FIREHOSE, "request": {**MARKETING_FIREHOSE["request"], **NO_IDENTITIES}},
        match=MARKETING,
        skipped="no_identifiers",
    ),
]

CLICK_KEY_ONLY = MatchSettings(forward_anonymous_with_click_id=True)
ANONYMOUS_CASES = [
    # -- FORWARD_ANONYMOUS_WITH_CLICK_ID: false (default), true ------------------------------------------
    Case(
        "default: a click id is not enough",
        *anonymous(with_flags(TikTok_Callback=CLICK_ID)),
        skipped="no_identifiers",
    ),
    Case("default: a ttp is not enough", *anonymous(with_flags(TikTok_TTP=TTP)), skipped="no_identifiers"),
    Case(
        "true: forwarded on its click id",
        *anonymous(with_flags(TikTok_Callback=CLICK_ID)),
        {"user.ttclid": CLICK_ID, "user.email": MISSING, "user.phone": MISSING, "user.external_id": MISSING},
        CLICK_KEY_ONLY,
    ),
    Case(
        "true: forwarded on its ttp",
        *anonymous(with_flags(TikTok_TTP=TTP)),
        {"user.ttp": TTP, "user.ttclid": MISSING},
        CLICK_KEY_ONLY,
    ),
    Case(
        "true: forwarded on the landing URL's click id",
        *anonymous(with_flags(TikTok_URL=f"{URL}?ttclid={CLICK_ID}")),
        {"user.ttclid": CLICK_ID},
        CLICK_KEY_ONLY,
    ),
    Case(
        "true: an invalid click id is no click key",
        *anonymous(with_flags(TikTok_Callback="dummy")),
        match=CLICK_KEY_ONLY,
        skipped="no_identifiers",
    ),
    Case(
        "true: nothing to match on", *anonymous(with_flags()), match=CLICK_KEY_ONLY, skipped="no_identifiers"
    ),
    Case(
        "true: IP, user agent and advanced matching are no click keys",
        {"batch": {**NO_IDENTITIES, "user_attributes": {"$FirstName": "Jane"}}},
        {"request": {**NO_IDENTITIES, "user_attributes": {"$FirstName": "Jane"}}},
        match=CLICK_KEY_ONLY,
        skipped="no_identifiers",
    ),
    Case(
        "true: with a click key, the page URL is still required",
        *anonymous({"event": {"custom_flags": {"TikTok.URL": "shop.example.com", "TikTok.TTP": TTP}}}),
        match=CLICK_KEY_ONLY,
        skipped="invalid_page_url",
    ),
    Case(
        "true: a user with identifiers is unchanged",
        {},
        {},
        {"user.email": sha256("jane.doe@example.com"), "user.ttclid": MISSING},
        CLICK_KEY_ONLY,
    ),
]

PURCHASE_CASES = [
    # -- PURCHASE_EVENT: PlaceAnOrder (default), CompletePayment, Purchase ---------------------------------
    Case("default", {}, {}, {"event": "PlaceAnOrder", "properties.order_id": "ORD-1"}),
    *(
        Case(
            name,
            {},
            {},
            {"event": name, "properties.order_id": "ORD-1", "properties.value": 50.0},
            MatchSettings(purchase_event=name),
        )
        for name in ("CompletePayment", "Purchase", "PlaceAnOrder")
    ),
    Case(
        "other actions keep their events",
        {"data": {"product_action": {"action": "checkout"}}},
        {"event": {"action": "checkout"}},
        {"event": "InitiateCheckout", "properties.order_id": MISSING},
        MatchSettings(purchase_event="Purchase"),
    ),
]

ALL_CASES = [*SIGNAL_CASES, *LDU_CASES, *GDPR_CASES, *ANONYMOUS_CASES, *PURCHASE_CASES]


def through_webhook(case: Case) -> MappingResult:
    document = webhook_batch()
    merge(document, copy.deepcopy(case.webhook.get("batch", {})))
    merge(document["events"][0]["data"], copy.deepcopy(case.webhook.get("data", {})))
    if case.products is not None:
        document["events"][0]["data"]["product_action"]["products"] = copy.deepcopy(case.products)
    settings = MappingSettings(match=case.match)
    return map_batches(parse_webhook_body(json.dumps(document).encode()), settings)


def through_firehose(case: Case) -> MappingResult:
    document = firehose_request()
    merge(document, copy.deepcopy(case.firehose.get("request", {})))
    merge(document["events"][0], copy.deepcopy(case.firehose.get("event", {})))
    if case.products is not None:
        document["events"][0]["products"] = copy.deepcopy(case.products)
    batch = parse_event_processing_request(document).batch
    return map_batches([batch], MappingSettings(match=case.match))


def value_at(payload: dict[str, Any], path: str) -> object:
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.name for case in ALL_CASES])
def test_each_case_has_the_same_outcome_on_both_routes(case: Case) -> None:
    from_webhook = through_webhook(case)
    from_firehose = through_firehose(case)

    if case.skipped is not None:
        assert (dict(from_webhook.skipped), from_webhook.mapped) == ({case.skipped: 1}, [])
    else:
        assert (from_webhook.received, dict(from_webhook.skipped)) == (1, {})
        payload = from_webhook.mapped[0].payload
        assert {path: value_at(payload, path) for path in case.expected} == case.expected
        assert dict(from_webhook.warnings) == case.warnings
    assert [event.payload for event in from_firehose.mapped] == [
        event.payload for event in from_webhook.mapped
    ]
    assert (from_firehose.skipped, from_firehose.warnings) == (from_webhook.skipped, from_webhook.warnings)


def test_every_setting_value_has_a_case() -> None:
    seen = {dataclasses.astuple(case.match) for case in ALL_CASES}
    for field, values in (
        ("limited_data_use", ("consent", "always", "never")),
        ("gdpr_consent_purpose", (None, "marketing")),
        ("forward_anonymous_with_click_id", (False, True)),
        ("purchase_event", ("PlaceAnOrder", "CompletePayment", "Purchase")),
    ):
        index = [f.name for f in dataclasses.fields(MatchSettings)].index(field)
        assert {match[index] for match in seen} >= set(values), field


def test_the_native_table_itself_stays_the_integrations() -> None:
    # PURCHASE_EVENT changes the event of purchases for one mapping run, never the shared table.
    through_webhook(PURCHASE_CASES[1])
    assert NATIVE_COMMERCE_EVENTS["purchase"] == "PlaceAnOrder"


def test_a_custom_mapping_still_wins_over_the_purchase_event_setting() -> None:
    from tiktok_connector.mapping.custom import parse_custom_mappings

    mappings = parse_custom_mappings(
        json.dumps(
            [
                {
                    "match": {"event_type": "commerce_event", "product_action": "purchase"},
                    "tiktok_event": "Lead",
                }
            ]
        )
    )
    batches = parse_webhook_body(json.dumps(webhook_batch()).encode())
    settings = MappingSettings(custom_mappings=mappings, match=MatchSettings(purchase_event="Purchase"))
    assert map_batches(batches, settings).mapped[0].payload["event"] == "Lead"


def test_the_new_signals_count_as_match_keys() -> None:
    case = Case(
        "everything",
        {
            "batch": {"user_attributes": {"$City": "Boca Raton"}},
            "data": {"custom_flags": {"TikTok.URL": URL, "TikTok.TTP": TTP, "TikTok.Callback": CLICK_ID}},
        },
        {},
    )
    payload = through_webhook(case).mapped[0].payload
    counts = count_match_keys([payload])
    assert (counts["ttp"], counts["ttclid"], counts["advanced_matching"]) == (1, 1, 1)
    assert (
        count_match_keys([through_webhook(Case("none", {}, {})).mapped[0].payload])["advanced_matching"] == 0
    )


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.name for case in ALL_CASES])
def test_the_match_keys_counted_while_mapping_are_those_of_the_payloads(case: Case) -> None:
    # The answer uses the mapper's count when TikTok accepted every event: it must be the payloads' own.
    for result in (through_webhook(case), through_firehose(case)):
        assert result.match_keys() == count_match_keys(event.payload for event in result.mapped)


def test_match_keys_counted_while_mapping_several_batches_and_events() -> None:
    # Two users (one without identities or advanced matching), events with and without click keys.
    first, second = webhook_batch(), webhook_batch()
    event = first["events"][0]
    first["events"] = [copy.deepcopy(event) for _ in range(3)]
    first["events"][1]["data"]["custom_flags"] = {"TikTok.URL": "https://shop.example.com/"}
    first["events"][2]["data"]["custom_flags"] |= {"TikTok.TTP": TTP, "TikTok.Callback": CLICK_ID}
    second["user_identities"], second["user_attributes"], second["ip"] = [], {}, ""
    second["events"] = [copy.deepcopy(first["events"][2]), copy.deepcopy(first["events"][1])]
    settings = MappingSettings(match=MatchSettings(forward_anonymous_with_click_id=True))

    result = map_batches(parse_webhook_body(json.dumps([first, second]).encode()), settings)

    assert (len(result.mapped), dict(result.skipped)) == (4, {"no_identifiers": 1})
    assert result.match_keys() == count_match_keys(event.payload for event in result.mapped)
    assert result.match_keys()["ttp"] == 2

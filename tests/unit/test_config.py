"""Configuration from environment variables: required ones, defaults, validation naming the culprit."""

import json
from collections.abc import Iterator

import pytest

from tiktok_connector.config import (
    DEFAULT_TIKTOK_API_URL,
    SETTINGS_VARIABLES,
    get_settings,
    load_settings,
    reset_settings,
)
from tiktok_connector.inbound.firehose import connection_settings
from tiktok_connector.inbound.webhook import parse_webhook_body
from tiktok_connector.mapping.mapper import map_batches
from tiktok_connector.mapping.settings import MappingSettings, MatchSettings
from tiktok_connector.platform.errors import ConfigurationError

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/tiktok-dead-letters"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tiktok-connector-AbCdEf"
REQUIRED = {"TIKTOK_PIXEL_ID": "C4PIXEL", "SECRET_ID": SECRET_ARN, "DEAD_LETTER_QUEUE_URL": QUEUE_URL}


def env(**overrides: str) -> dict[str, str]:
    return {**REQUIRED, **overrides}


def without(name: str) -> dict[str, str]:
    return {k: v for k, v in REQUIRED.items() if k != name}


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


def test_defaults_are_exactly_the_spec_defaults() -> None:
    settings = load_settings(REQUIRED)
    assert settings.secret_id == SECRET_ARN
    assert settings.dead_letter_queue_url == QUEUE_URL
    assert settings.tiktok_api_url == DEFAULT_TIKTOK_API_URL
    assert DEFAULT_TIKTOK_API_URL == "https://business-api.tiktok.com/open_api/v1.3/event/track/"
    assert settings.test_event_code is None
    assert settings.default_phone_region == "US"
    assert settings.custom_mappings == ()
    pixel_id, mapping = settings.webhook_settings()
    assert pixel_id == "C4PIXEL"
    assert mapping == MappingSettings(
        email_identity_type="email",
        external_identity_type="customer_id",
        phone_identity_type="mobile_number",
        content_type="product",
        default_phone_region="US",
        custom_mappings=(),
    )


def test_empty_values_take_the_defaults() -> None:
    settings = load_settings(
        env(
            TIKTOK_API_URL="",
            EMAIL_IDENTITY_TYPE="",
            EXTERNAL_IDENTITY_TYPE=" ",
            PHONE_IDENTITY_TYPE="",
            CONTENT_TYPE="",
            DEFAULT_PHONE_REGION="",
            TIKTOK_TEST_EVENT_CODE="",
            CUSTOM_MAPPINGS="",
        )
    )
    assert settings.tiktok_api_url == DEFAULT_TIKTOK_API_URL
    assert settings.test_event_code is None
    _, mapping = settings.webhook_settings()
    assert mapping == MappingSettings()


def test_every_setting_is_read() -> None:
    custom = [{"match": {"event_type": "screen_view"}, "tiktok_event": "ViewContent"}]
    settings = load_settings(
        env(
            TIKTOK_API_URL="http://127.0.0.1:9000/open_api/v1.3/event/track/",
            EMAIL_IDENTITY_TYPE="other",
            EXTERNAL_IDENTITY_TYPE="other_id_2",
            PHONE_IDENTITY_TYPE="phone_number_2",
            CONTENT_TYPE="product_group",
            DEFAULT_PHONE_REGION="GB",
            TIKTOK_TEST_EVENT_CODE="TEST12345",
            CUSTOM_MAPPINGS=json.dumps(custom),
        )
    )
    assert settings.tiktok_api_url == "http://127.0.0.1:9000/open_api/v1.3/event/track/"
    assert settings.test_event_code == "TEST12345"
    assert settings.default_phone_region == "GB"
    assert [m.tiktok_event for m in settings.custom_mappings] == ["ViewContent"]
    _, mapping = settings.webhook_settings()
    assert mapping.email_identity_type == "other"
    assert mapping.external_identity_type == "other_id_2"
    assert mapping.phone_identity_type == "phone_number_2"
    assert mapping.content_type == "product_group"
    assert mapping.default_phone_region == "GB"
    assert mapping.custom_mappings == settings.custom_mappings


@pytest.mark.parametrize("name", ["SECRET_ID", "DEAD_LETTER_QUEUE_URL"])
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_missing_shared_variable_raises_naming_it(name: str, blank: str | None) -> None:
    environ = without(name) if blank is None else env(**{name: blank})
    with pytest.raises(ConfigurationError, match=name):
        load_settings(environ)


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_a_missing_pixel_id_only_breaks_the_webhook_route(blank: str | None) -> None:
    environ = without("TIKTOK_PIXEL_ID") if blank is None else env(TIKTOK_PIXEL_ID=blank)
    settings = load_settings(environ)  # the shared part (Firehose) still works
    assert settings.secret_id == SECRET_ARN
    with pytest.raises(ConfigurationError, match="TIKTOK_PIXEL_ID"):
        settings.webhook_settings()


@pytest.mark.parametrize("name", ["EMAIL_IDENTITY_TYPE", "EXTERNAL_IDENTITY_TYPE", "PHONE_IDENTITY_TYPE"])
@pytest.mark.parametrize("given", ["ssn", "Other 11", "Email 2"])
def test_a_bad_identity_type_is_named(name: str, given: str) -> None:
    settings = load_settings(env(**{name: given}))
    with pytest.raises(ConfigurationError, match=name) as raised:
        settings.webhook_settings()
    assert given in str(raised.value)


@pytest.mark.parametrize("given", ["products", "sku", "product group", "1"])
def test_a_bad_content_type_is_named(given: str) -> None:
    settings = load_settings(env(CONTENT_TYPE=given))
    with pytest.raises(ConfigurationError, match="CONTENT_TYPE"):
        settings.webhook_settings()


@pytest.mark.parametrize("given", ["XX", "USA", "1", "United States"])
def test_a_bad_phone_region_is_named(given: str) -> None:
    with pytest.raises(ConfigurationError, match="DEFAULT_PHONE_REGION"):
        load_settings(env(DEFAULT_PHONE_REGION=given))


def test_a_phone_region_is_upper_cased() -> None:
    assert load_settings(env(DEFAULT_PHONE_REGION="gb")).default_phone_region == "GB"


@pytest.mark.parametrize("given", ["business-api.tiktok.com/open_api", "ftp://tiktok.example/"])
def test_a_tiktok_api_url_that_is_not_http_is_named(given: str) -> None:
    with pytest.raises(ConfigurationError, match="TIKTOK_API_URL"):
        load_settings(env(TIKTOK_API_URL=given))


def test_invalid_custom_mappings_fail_every_route_naming_the_entry() -> None:
    bad = [{"match": {"event_type": "custom_event"}, "tiktok_event": "Contact"}, {"tiktok_event": "Nope"}]
    with pytest.raises(ConfigurationError, match=r"CUSTOM_MAPPINGS\[1\]"):
        load_settings(env(CUSTOM_MAPPINGS=json.dumps(bad)))
    with pytest.raises(ConfigurationError, match="CUSTOM_MAPPINGS"):
        load_settings(env(CUSTOM_MAPPINGS="[{"))


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("Customer ID", "customer_id"),
        ("customer id", "customer_id"),
        ("Mobile Number", "mobile_number"),
        ("MOBILE NUMBER", "mobile_number"),
        ("Other 2", "other_id_2"),
        ("other 2", "other_id_2"),
        ("other_id_2", "other_id_2"),
        ("Phone Number 3", "phone_number_3"),
        ("Email", "email"),
    ],
)
def test_identity_settings_accept_keys_and_ui_labels_case_insensitively(setting: str, expected: str) -> None:
    for name, field in (
        ("EMAIL_IDENTITY_TYPE", "email_identity_type"),
        ("EXTERNAL_IDENTITY_TYPE", "external_identity_type"),
        ("PHONE_IDENTITY_TYPE", "phone_identity_type"),
    ):
        _, mapping = load_settings(env(**{name: setting})).webhook_settings()
        assert getattr(mapping, field) == expected, name


@pytest.mark.parametrize("setting", ["other_id_2", "Other 2", "OTHER 2"])
def test_external_identity_type_picks_that_identity(setting: str) -> None:
    import hashlib

    _, mapping = load_settings(env(EXTERNAL_IDENTITY_TYPE=setting)).webhook_settings()
    document = {
        "events": [
            {
                "event_type": "commerce_event",
                "data": {
                    "product_action": {"action": "add_to_cart"},
                    "custom_flags": {"TikTok.URL": "https://shop.example.com/"},
                    "event_id": 1,
                },
            }
        ],
        "user_identities": [
            {"identity_type": "customer_id", "identity": "CUST-10042"},
            {"identity_type": "other_id_2", "identity": "loyalty-7"},
        ],
    }
    result = map_batches(parse_webhook_body(json.dumps(document).encode()), mapping)
    assert result.mapped[0].payload["user"] == {
        "external_id": hashlib.sha256(b"loyalty-7").hexdigest(),
    }


def test_get_settings_reads_the_environment_once_and_keeps_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DEFAULT_PHONE_REGION", raising=False)
    first = get_settings()
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")  # not a setting
    assert get_settings() is first  # validated once while the settings stay the same
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "GB")
    assert get_settings().default_phone_region == "GB"  # a changed environment is read again

    monkeypatch.delenv("SECRET_ID")
    for _ in range(2):  # raised every time, not only on the first call
        with pytest.raises(ConfigurationError, match="SECRET_ID"):
            get_settings()


# -- ALLOWED_PIXEL_IDS: the pixels a Firehose request may reach with the connector's own token --------


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_allowed_pixel_ids_default_to_the_pixel_id(blank: str | None) -> None:
    environ = REQUIRED if blank is None else env(ALLOWED_PIXEL_IDS=blank)
    assert load_settings(environ).allowed_pixel_ids == frozenset({"C4PIXEL"})


def test_without_any_pixel_id_no_pixel_is_allowed() -> None:
    assert load_settings(without("TIKTOK_PIXEL_ID")).allowed_pixel_ids == frozenset()
    assert load_settings(env(ALLOWED_PIXEL_IDS=",")).allowed_pixel_ids == frozenset()


def test_allowed_pixel_ids_replace_the_default() -> None:
    settings = load_settings(env(ALLOWED_PIXEL_IDS=" C4OTHER01 ,C4THIRD_02,, C4-FOURTH ,"))
    assert settings.allowed_pixel_ids == frozenset({"C4OTHER01", "C4THIRD_02", "C4-FOURTH"})


@pytest.mark.parametrize(
    "given", ["C4PIXEL,not a pixel", "C4PIXEL;C4OTHER", "C4PIXEL,é", "C4PIXEL," + "P" * 65]
)
def test_a_bad_allowed_pixel_id_is_named(given: str) -> None:
    with pytest.raises(ConfigurationError, match="ALLOWED_PIXEL_IDS") as raised:
        load_settings(env(ALLOWED_PIXEL_IDS=given))
    assert "not a pixel id" in str(raised.value)


def test_a_changed_allowed_pixel_ids_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALLOWED_PIXEL_IDS", raising=False)
    assert get_settings().allowed_pixel_ids == frozenset({"C4PIXEL"})
    monkeypatch.setenv("ALLOWED_PIXEL_IDS", "C4OTHER01")
    assert get_settings().allowed_pixel_ids == frozenset({"C4OTHER01"})


def test_the_template_passes_allowed_pixel_ids_to_the_connector_empty_by_default() -> None:
    from pathlib import Path

    from cfnlint.decode import decode_str

    template, problems = decode_str((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    assert template is not None and not problems
    variables = template["Resources"]["ConnectorFunction"]["Properties"]["Environment"]["Variables"]
    parameter = variables["ALLOWED_PIXEL_IDS"]["Ref"]
    assert template["Parameters"][parameter]["Default"] == ""


@pytest.mark.parametrize(
    ("value", "bucket"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("tiktok-connector-dead-letters", "tiktok-connector-dead-letters"),
    ],
)
def test_the_dead_letter_bucket_is_optional(value: str | None, bucket: str | None) -> None:
    environ = REQUIRED if value is None else env(DEAD_LETTER_BUCKET=value)
    assert load_settings(environ).dead_letter_bucket == bucket


# -- consent and match quality: deployment-wide, both routes ------------------------------------------


def test_match_settings_default_to_the_integrations_behaviour() -> None:
    settings = load_settings(REQUIRED)
    assert settings.match == MatchSettings(
        limited_data_use="consent",
        gdpr_consent_purpose=None,
        forward_anonymous_with_click_id=False,
        purchase_event="PlaceAnOrder",
    )
    assert settings.webhook_settings()[1].match == settings.match
    blank = load_settings(
        env(
            LIMITED_DATA_USE=" ",
            GDPR_CONSENT_PURPOSE="",
            FORWARD_ANONYMOUS_WITH_CLICK_ID="",
            PURCHASE_EVENT="",
        )
    )
    assert blank.match == settings.match


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"LIMITED_DATA_USE": "always"}, MatchSettings(limited_data_use="always")),
        ({"LIMITED_DATA_USE": "NEVER"}, MatchSettings(limited_data_use="never")),
        ({"LIMITED_DATA_USE": "Consent"}, MatchSettings(limited_data_use="consent")),
        ({"GDPR_CONSENT_PURPOSE": " Marketing "}, MatchSettings(gdpr_consent_purpose="marketing")),
        ({"FORWARD_ANONYMOUS_WITH_CLICK_ID": "true"}, MatchSettings(forward_anonymous_with_click_id=True)),
        ({"FORWARD_ANONYMOUS_WITH_CLICK_ID": "FALSE"}, MatchSettings(forward_anonymous_with_click_id=False)),
        ({"PURCHASE_EVENT": "CompletePayment"}, MatchSettings(purchase_event="CompletePayment")),
        ({"PURCHASE_EVENT": "purchase"}, MatchSettings(purchase_event="Purchase")),
        ({"PURCHASE_EVENT": "PlaceAnOrder"}, MatchSettings(purchase_event="PlaceAnOrder")),
    ],
)
def test_each_match_setting_is_read_for_both_routes(
    variables: dict[str, str], expected: MatchSettings
) -> None:
    settings = load_settings(env(**variables))
    assert settings.match == expected
    assert settings.webhook_settings()[1].match == expected  # the Webhook route's mapping
    # the Firehose route's: its connection settings take the deployment's
    connection = connection_settings(
        {"pixelId": "C4PIXEL"}, default_phone_region="US", custom_mappings=(), match=settings.match
    )
    assert connection.mapping.match == expected


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("LIMITED_DATA_USE", "sometimes"),
        ("LIMITED_DATA_USE", "true"),
        ("FORWARD_ANONYMOUS_WITH_CLICK_ID", "yes"),
        ("FORWARD_ANONYMOUS_WITH_CLICK_ID", "1"),
        ("PURCHASE_EVENT", "CompletePurchase"),
        ("PURCHASE_EVENT", "AddToCart"),
        ("GDPR_CONSENT_PURPOSE", "x" * 201),
        ("GDPR_CONSENT_PURPOSE", "marketing\nanalytics"),
    ],
)
def test_a_bad_match_setting_fails_every_route_naming_it(name: str, given: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        load_settings(env(**{name: given}))


def test_every_match_setting_is_a_settings_variable() -> None:
    # A changed value is read again (get_settings watches these names), and operations.md documents them.
    assert {
        "LIMITED_DATA_USE",
        "GDPR_CONSENT_PURPOSE",
        "FORWARD_ANONYMOUS_WITH_CLICK_ID",
        "PURCHASE_EVENT",
    } <= set(SETTINGS_VARIABLES)

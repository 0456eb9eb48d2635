"""Identity types, normalisation and hashing."""

import hashlib

import pytest

from tiktok_connector.mapping import identities
from tiktok_connector.mapping.identities import (
    IDENTITY_TYPES,
    TikTokIdentifier,
    canonical_identity_type,
    hashed_identifier,
    is_sha256_hex,
    normalize_phone,
)
from tiktok_connector.model.events import Identity, IdentityEncoding


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# mParticle's identity types (its JSON reference's `identity_type` values).
MPARTICLE_IDENTITY_TYPES = [
    "customer_id",
    "email",
    "other",
    *(f"other_id_{n}" for n in range(2, 11)),
    "mobile_number",
    "phone_number_2",
    "phone_number_3",
    "facebook",
    "google",
    "microsoft",
    "yahoo",
    "twitter",
    "alias",
    "facebook_custom_audience_id",
]


@pytest.mark.parametrize("key", MPARTICLE_IDENTITY_TYPES)
def test_every_mparticle_key_is_its_own_canonical_type(key: str) -> None:
    assert canonical_identity_type(key) == key
    assert canonical_identity_type(key.upper()) == key


def test_identity_types_are_exactly_the_spec_keys() -> None:
    assert sorted(IDENTITY_TYPES) == sorted(MPARTICLE_IDENTITY_TYPES)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Customer ID", "customer_id"),
        ("customer id", "customer_id"),
        ("CUSTOMER ID", "customer_id"),
        ("Mobile Number", "mobile_number"),
        ("mobile number", "mobile_number"),
        ("Email", "email"),
        ("Other", "other"),
        ("Other 2", "other_id_2"),
        ("other 2", "other_id_2"),
        ("Other 10", "other_id_10"),
        ("Other ID 3", "other_id_3"),
        ("Phone Number 2", "phone_number_2"),
        ("Phone Number 3", "phone_number_3"),
        ("Facebook Custom Audience ID", "facebook_custom_audience_id"),
        ("Microsoft", "microsoft"),
        ("  Alias  ", "alias"),
    ],
)
def test_ui_labels_map_to_keys_case_insensitively(label: str, expected: str) -> None:
    assert canonical_identity_type(label) == expected


@pytest.mark.parametrize(
    "name", ["", "   ", "Other 11", "other_id_1", "ssn", "Email Address 2", "phone_number_4"]
)
def test_unknown_identity_types_are_rejected(name: str) -> None:
    assert canonical_identity_type(name) is None


@pytest.mark.parametrize(
    ("kind", "raw", "normalized", "digest"),
    [
        (
            "email",
            " ALICE_abc@gmail.com ",
            "alice_abc@gmail.com",
            "848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f",
        ),
        (
            "phone",
            "(+1)2133734253",
            "+12133734253",
            "9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd",
        ),
        (
            "external_id",
            "user_123",
            "user_123",
            "80fba0ae1c48e3978e43e4efc365e14e12ea0c830ba8ba5b9a2dafc7e3f2ab8b",
        ),
    ],
)
def test_worked_hash_examples_exactly(kind: TikTokIdentifier, raw: str, normalized: str, digest: str) -> None:
    assert sha256(normalized) == digest  # the worked example is self-consistent
    assert hashed_identifier(kind, Identity(raw), "US") == digest


def test_email_is_trimmed_and_lower_cased_before_hashing() -> None:
    expected = sha256("jane.doe@example.com")
    for raw in ("jane.doe@example.com", "  Jane.Doe@Example.COM\t", "JANE.DOE@EXAMPLE.COM"):
        assert hashed_identifier("email", Identity(raw), "US") == expected


def test_external_id_is_trimmed_only_never_lower_cased() -> None:
    assert hashed_identifier("external_id", Identity("  CUST-10042 "), "US") == sha256("CUST-10042")
    assert hashed_identifier("external_id", Identity("CUST-10042"), "US") != sha256("cust-10042")


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(213) 373-4253", "US", "+12133734253"),
        ("213-373-4253", "US", "+12133734253"),
        ("213-373-4253", "GB", "+442133734253"),  # the default region serves numbers without a country code
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),  # an explicit country code wins over the region
        ("+1 415 555 0123", "DE", "+14155550123"),
    ],
)
def test_phone_is_e164_with_plus_using_the_default_region(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164
    assert hashed_identifier("phone", Identity(raw), region) == sha256(e164)


# The last one is a UK national number: read with the US region it is not a possible number.
@pytest.mark.parametrize("raw", ["", "   ", "not a phone", "12", "+1", "020 7946 0958"])
def test_unparseable_phone_is_dropped_not_guessed(raw: str) -> None:
    assert normalize_phone(raw, "US") is None
    assert hashed_identifier("phone", Identity(raw), "US") is None


@pytest.mark.parametrize("kind", ["email", "phone", "external_id"])
def test_pre_hashed_values_pass_through_lower_cased(kind: TikTokIdentifier) -> None:
    digest = sha256("jane.doe@example.com")
    assert hashed_identifier(kind, Identity(digest.upper()), "US") == digest
    assert hashed_identifier(kind, Identity(f"  {digest}  "), "US") == digest
    assert hashed_identifier(kind, Identity(digest, encoding="sha256"), "US") == digest


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a" * 64, True), ("A" * 64, True), ("a" * 63, False), ("a" * 65, False), ("g" * 64, False)],
)
def test_is_sha256_hex(value: str, expected: bool) -> None:
    assert is_sha256_hex(value) is expected


def test_sixty_three_hex_characters_are_hashed_as_a_normal_value() -> None:
    value = "a" * 63
    assert hashed_identifier("external_id", Identity(value), "US") == sha256(value)


def test_declared_hashed_value_that_is_no_digest_is_dropped() -> None:
    encoding: IdentityEncoding = "sha256"
    assert hashed_identifier("email", Identity("jane.doe@example.com", encoding=encoding), "US") is None


@pytest.mark.parametrize("kind", ["email", "external_id"])
def test_blank_values_are_dropped(kind: TikTokIdentifier) -> None:
    assert hashed_identifier(kind, Identity("   "), "US") is None


def test_identity_repr_never_shows_the_value() -> None:
    assert "jane" not in repr(Identity("jane.doe@example.com"))


def test_a_returning_phone_number_hashes_the_same_from_the_cache_which_holds_digests_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(identities, "_phones", {})
    first = [hashed_identifier("phone", Identity(raw), "GB") for raw in ("020 7946 0958", "not a phone")]
    parsed: list[str] = []
    monkeypatch.setattr(identities, "normalize_phone", lambda value, region: parsed.append(value))
    again = [hashed_identifier("phone", Identity(raw), "GB") for raw in ("020 7946 0958", "not a phone")]

    assert again == first == [sha256("+442079460958"), None]
    assert parsed == []  # both answered from the cache, the unparseable one too
    assert hashed_identifier("phone", Identity("020 7946 0958"), "US") is None  # another region: parsed
    assert parsed == ["020 7946 0958"]
    cached = identities._phones
    assert all(isinstance(key, bytes) and len(key) == 32 for key in cached)
    assert all(value is None or is_sha256_hex(value) for value in cached.values())
    assert "7946" not in repr(cached)


def test_a_full_phone_cache_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identities, "_phones", {})
    monkeypatch.setattr(identities, "_PHONES_KEPT", 3)
    for number in range(5):
        hashed_identifier("phone", Identity(f"+1 415 555 012{number}"), "US")

    assert len(identities._phones) == 2

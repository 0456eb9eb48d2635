"""The per-connection mapping settings (mParticle's "Settings" tables for the TikTok integration), validated.

Both protocols build them: the Webhook from the function's environment, Firehose from each request's
account settings. `label` names a setting the way its source spells it, so an error points at the field
the operator typed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, cast

import phonenumbers

from tiktok_connector.mapping.custom import CustomMapping
from tiktok_connector.mapping.identities import TikTokIdentifier, canonical_identity_type
from tiktok_connector.mapping.vocabulary import CONTENT_TYPES
from tiktok_connector.platform.errors import ConfigurationError

LimitedDataUse = Literal["consent", "always", "never"]
LIMITED_DATA_USE_MODES: Final = ("consent", "always", "never")
PURCHASE_EVENTS: Final = ("PlaceAnOrder", "CompletePayment", "Purchase")
"""The TikTok events a native `purchase` may become: the integration's own, and TikTok's later names for a
purchase that is also the payment."""


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """The deployment's consent and match-quality settings: the same for both routes and every connection.

    The defaults keep the integration's original behaviour: `limited_data_use` follows the user's CCPA
    opt-out, no GDPR purpose is required, a user needs an email, phone or external id, and a purchase is
    `PlaceAnOrder`.
    """

    limited_data_use: LimitedDataUse = "consent"
    """`consent`: true for a user who opted out of the sale of their data (CCPA); `always`; `never`."""
    gdpr_consent_purpose: str | None = None
    """When set (lower-cased), an event is forwarded only if its user consented to this GDPR purpose."""
    forward_anonymous_with_click_id: bool = False
    """Forward a user without email, phone and external id when the event carries a ttclid or ttp."""
    purchase_event: str = "PlaceAnOrder"
    """The TikTok event of the native `purchase` mapping."""


DEFAULT_MATCH_SETTINGS: Final = MatchSettings()


@dataclass(frozen=True, slots=True)
class MappingSettings:
    """Per-connection settings of mParticle's TikTok integration, plus the deployment's custom mappings
    and its consent and match-quality settings."""

    email_identity_type: str = "email"
    external_identity_type: str = "customer_id"
    phone_identity_type: str = "mobile_number"
    content_type: str = "product"
    default_phone_region: str = "US"
    custom_mappings: tuple[CustomMapping, ...] = ()
    match: MatchSettings = DEFAULT_MATCH_SETTINGS

    def identity_types(self) -> tuple[tuple[TikTokIdentifier, str], ...]:
        return (
            ("email", self.email_identity_type),
            ("phone", self.phone_identity_type),
            ("external_id", self.external_identity_type),
        )


def validated_mapping_settings(
    *,
    email_identity_type: str,
    external_identity_type: str,
    phone_identity_type: str,
    content_type: str,
    default_phone_region: str,
    custom_mappings: tuple[CustomMapping, ...],
    label: Callable[[str], str],
    match: MatchSettings = DEFAULT_MATCH_SETTINGS,
) -> MappingSettings:
    """Mapping settings from either protocol; `label` names a setting the way its source spells it."""
    identity_types = {}
    for name, given in (
        ("email_identity_type", email_identity_type),
        ("external_identity_type", external_identity_type),
        ("phone_identity_type", phone_identity_type),
    ):
        canonical = canonical_identity_type(given)
        if canonical is None:
            raise ConfigurationError(f"{label(name)}: {given!r} is not an mParticle identity type")
        identity_types[name] = canonical
    normalized_content_type = content_type.strip().lower()
    if normalized_content_type not in CONTENT_TYPES:
        raise ConfigurationError(f"{label('content_type')}: must be 'product' or 'product_group'")
    return MappingSettings(
        content_type=normalized_content_type,
        default_phone_region=default_phone_region,
        custom_mappings=custom_mappings,
        match=match,
        **identity_types,
    )


def validated_match_settings(
    *,
    limited_data_use: str,
    gdpr_consent_purpose: str,
    forward_anonymous_with_click_id: str,
    purchase_event: str,
    label: Callable[[str], str],
) -> MatchSettings:
    """The consent and match-quality settings from their text; `label` names a setting in an error."""
    mode = limited_data_use.strip().lower() or "consent"
    if mode not in LIMITED_DATA_USE_MODES:
        raise ConfigurationError(
            f"{label('limited_data_use')}: {limited_data_use!r} is not one of "
            + ", ".join(LIMITED_DATA_USE_MODES)
        )
    purpose = gdpr_consent_purpose.strip().lower()
    if len(purpose) > _MAX_PURPOSE_LENGTH or not purpose.isprintable():
        raise ConfigurationError(
            f"{label('gdpr_consent_purpose')}: must be an mParticle consent purpose "
            f"(printable text of at most {_MAX_PURPOSE_LENGTH} characters)"
        )
    forward = forward_anonymous_with_click_id.strip().lower() or "false"
    if forward not in ("true", "false"):
        raise ConfigurationError(
            f"{label('forward_anonymous_with_click_id')}: "
            f"{forward_anonymous_with_click_id!r} is not true or false"
        )
    event = _PURCHASE_EVENTS_BY_LOWER.get(purchase_event.strip().lower() or "placeanorder")
    if event is None:
        raise ConfigurationError(
            f"{label('purchase_event')}: {purchase_event!r} is not one of {', '.join(PURCHASE_EVENTS)}"
        )
    return MatchSettings(
        limited_data_use=cast(LimitedDataUse, mode),
        gdpr_consent_purpose=purpose or None,
        forward_anonymous_with_click_id=forward == "true",
        purchase_event=event,
    )


_MAX_PURPOSE_LENGTH: Final = 200
_PURCHASE_EVENTS_BY_LOWER: Final = {name.lower(): name for name in PURCHASE_EVENTS}


def validated_phone_region(region: str, name: str) -> str:
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigurationError(f"{name}: {region!r} is not a region code phonenumbers knows (e.g. US, GB)")
    return code

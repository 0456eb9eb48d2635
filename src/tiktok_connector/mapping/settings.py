"""The per-connection mapping settings (mParticle's "Settings" tables for the TikTok integration), validated.

Both protocols build them: the Webhook from the function's environment, Firehose from each request's
account settings. `label` names a setting the way its source spells it, so an error points at the field
the operator typed.
"""

from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from tiktok_connector.mapping.custom import CustomMapping
from tiktok_connector.mapping.identities import TikTokIdentifier, canonical_identity_type
from tiktok_connector.mapping.vocabulary import CONTENT_TYPES
from tiktok_connector.platform.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class MappingSettings:
    """Per-connection settings of mParticle's TikTok integration, plus the deployment's custom mappings."""

    email_identity_type: str = "email"
    external_identity_type: str = "customer_id"
    phone_identity_type: str = "mobile_number"
    content_type: str = "product"
    default_phone_region: str = "US"
    custom_mappings: tuple[CustomMapping, ...] = ()

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
        **identity_types,
    )


def validated_phone_region(region: str, name: str) -> str:
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigurationError(f"{name}: {region!r} is not a region code phonenumbers knows (e.g. US, GB)")
    return code

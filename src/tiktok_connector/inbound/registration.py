"""What this integration declares to mParticle's Firehose: the `module_registration_response`.

The settings are those of mParticle's TikTok Event integration (Configuration: Access Token; Connection:
Pixel Id, the three identity types, Content Type), all registered as account settings: those are the
values the Firehose protocol documents arriving in every `event_processing_request`
(`account.account_settings`, all strings).
"""

import time
import uuid
from dataclasses import dataclass
from typing import Final

FIREHOSE_VERSION: Final = "3.2.0"
"""The Firehose SDK version whose message models this implementation follows."""
INTEGRATION_NAME: Final = "TikTok Events API"
INTEGRATION_VERSION: Final = "1.0.0"
DESCRIPTION: Final = (
    "Forwards web commerce events and custom-mapped events to TikTok's Events API 2.0, server to server, "
    "with SHA-256 hashed email, phone and external ID, to measure TikTok campaigns without a browser pixel."
)

ACCESS_TOKEN: Final = "accessToken"  # noqa: S105 - a setting id, not a secret
PIXEL_ID: Final = "pixelId"
EMAIL_IDENTITY_TYPE: Final = "emailIdentityType"
EXTERNAL_IDENTITY_TYPE: Final = "externalIdentityType"
PHONE_IDENTITY_TYPE: Final = "phoneIdentityType"
CONTENT_TYPE: Final = "contentType"

_IDENTITY_HINT: Final = (
    "mParticle identity type, e.g. Email, Customer ID, Mobile Number, Other, Other 2 to Other 10, "
    "Phone Number 2, Phone Number 3"
)


@dataclass(frozen=True, slots=True)
class TextSetting:
    """A Firehose `text` setting (`TextSetting` in mParticle's Firehose SDK)."""

    id: str
    name: str
    description: str
    required: bool
    confidential: bool = False
    default_value: str | None = None

    def to_json(self) -> dict[str, object]:
        setting: dict[str, object] = {
            "type": "text",
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "visible": True,
            "required": self.required,
            "confidential": self.confidential,
        }
        if self.default_value is not None:
            setting["default_value"] = self.default_value
        return setting


ACCOUNT_SETTINGS: Final = (
    TextSetting(
        ACCESS_TOKEN,
        "Access Token",
        "Provides access to TikTok's Events API. "
        "You can create an access token in the TikTok Events Manager.",
        required=True,
        confidential=True,
    ),
    TextSetting(PIXEL_ID, "Pixel Id", "The unique Pixel ID for your TikTok ads account.", required=True),
    TextSetting(
        EMAIL_IDENTITY_TYPE,
        "Email Identity Type",
        f"The Identity Type to forward as the email to TikTok ({_IDENTITY_HINT}).",
        required=True,
        default_value="Email",
    ),
    TextSetting(
        EXTERNAL_IDENTITY_TYPE,
        "External Identity Type",
        f"The Identity Type to forward as the external ID to TikTok ({_IDENTITY_HINT}).",
        required=True,
        default_value="Customer ID",
    ),
    TextSetting(
        PHONE_IDENTITY_TYPE,
        "Phone Identity Type",
        f"The Identity Type to forward as the phone number to TikTok ({_IDENTITY_HINT}).",
        required=True,
        default_value="Mobile Number",
    ),
    TextSetting(
        CONTENT_TYPE,
        "Content Type",
        "The content_type property can be set to either 'product' or 'product_group', depending on how "
        "your data feed and product catalog are configured on TikTok's end.",
        required=True,
        default_value="product",
    ),
)

SETTING_DEFAULTS: Final[dict[str, str]] = {
    setting.id: setting.default_value for setting in ACCOUNT_SETTINGS if setting.default_value is not None
}
"""The value a request that leaves a setting out (or empty) gets: the registered default."""

USER_IDENTITY_TYPES: Final = (
    "email",
    "customer",
    "mobile_number",
    "other",
    *(f"other{n}" for n in range(2, 11)),
    "phone_number_2",
    "phone_number_3",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
)
"""Every Firehose user identity type an identity setting can select. Raw encoding: the connector
normalises (trim, lower-case, E.164) before hashing, which mParticle's own hashing would not do."""

SUPPORTED_EVENT_TYPES: Final = ("product_action", "custom_event", "screen_view")
SUPPORTED_RUNTIME_ENVIRONMENTS: Final = ("mobileweb",)
"""The integration supports Web input only; TikTok receives the events as `event_source: web`."""


def response_envelope(response_type: str, request_id: object = None) -> dict[str, object]:
    """The fields every Firehose response carries; its id is the request's (a new one if it had none)."""
    return {
        "type": response_type,
        "id": request_id.strip() if isinstance(request_id, str) and request_id.strip() else str(uuid.uuid4()),
        "timestamp_ms": int(time.time() * 1000),
        "firehose_version": FIREHOSE_VERSION,
    }


def registration_response(request_id: object = None) -> dict[str, object]:
    """The `module_registration_response` declaring this integration."""
    return {
        **response_envelope("module_registration_response", request_id),
        "sdk_version": FIREHOSE_VERSION,
        "name": INTEGRATION_NAME,
        "description": DESCRIPTION,
        "version": INTEGRATION_VERSION,
        "permissions": {
            "user_identities": [
                {"type": identity_type, "encoding": "raw", "required": False}
                for identity_type in USER_IDENTITY_TYPES
            ],
            "allow_access_ip_address": True,
            "allow_access_http_user_agent": True,
        },
        "event_processing_registration": {
            "account_settings": [setting.to_json() for setting in ACCOUNT_SETTINGS],
            "supported_event_types": list(SUPPORTED_EVENT_TYPES),
            "supported_runtime_environments": list(SUPPORTED_RUNTIME_ENVIRONMENTS),
            "max_data_age_hours": 24,
        },
    }

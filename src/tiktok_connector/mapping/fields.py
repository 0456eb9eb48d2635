"""mParticle → TikTok Events API 2.0, field by field: the tables the parsers and the mapper walk.

One row per TikTok field (in the manner of RudderStack's TikTok mapping files, with each field's
documentation beside its definition as Segment's destinations keep it): the destination key, its source
in the typed model and on each mParticle route, the edge reader that types it, the formatting step, and
what its absence means. Adding a field is one row here (plus its typed model attribute when the value is
new to the model) and one row in the tests. `docs/mapping-fields.md` is generated from these tables:

    python -m tiktok_connector.mapping.fields > docs/mapping-fields.md
"""

from typing import Final

from tiktok_connector.mapping.field_docs import render_markdown
from tiktok_connector.mapping.field_types import (
    Field,
    batch_value,
    chosen_event,
    event_value,
    flag,
    flags,
    identity,
    product_value,
    setting,
    user_attribute,
)
from tiktok_connector.mapping.steps import (
    address_part,
    click_id,
    content_ids,
    hashed_compact,
    hashed_email,
    hashed_external_id,
    hashed_phone,
    limited_data_use,
    listed_currency,
    locale,
    now_seconds,
    page_url,
    purchase_only,
    seconds,
    value_with_listed_currency,
    without_emails,
)
from tiktok_connector.platform.values import (
    to_currency_code,
    to_number,
    to_present_text,
    to_text,
    to_whole_number,
)

_CCPA_OPT_OUT: Final = (
    "consent_state.ccpa.data_sale_opt_out | consent_state.ccpa_consent_state.data_sale_opt_out"
)
EVENT_FIELDS: Final = (
    Field("event", chosen_event(), "The TikTok standard event name."),
    Field(
        "event_time",
        event_value(
            "timestamp_ms",
            "timestamp_unixtime_ms",
            "timestamp_ms",
            parsed="`read_event_time`: int64 milliseconds (number or decimal string), if plausible",
        ),
        "The event's time; its batch's when it has none or an implausible one (`invalid_timestamp`).",
        step=seconds,
        default=now_seconds,
    ),
    Field(
        "event_id",
        event_value(
            "event_id",
            "source_message_id | event_id",
            "source_id | id",
            parsed="text, an int64 in decimal; without either, derived from the event's content",
        ),
        "The client's message id, so a retry or the other route's copy is deduplicated by TikTok.",
    ),
    Field(
        "limited_data_use",
        batch_value(
            "consent",
            _CCPA_OPT_OUT,
            _CCPA_OPT_OUT,
            parsed="`consent_state`: `consented` per purpose (lower-cased); the parts `ccpa`/`gdpr` or "
            "`ccpa_consent_state`/`gdpr_consent_state`",
        ),
        "Asks TikTok to limit its processing of the event (TikTok's Limited Data Use, for the CCPA).",
        step=limited_data_use,
    ),
    Field(
        "user.email",
        identity(
            "email_identity_type",
            "user_identities, Email Identity Type",
            "user_identities, emailIdentityType",
        ),
        "The identity of the type the setting names (default `email`).",
        step=hashed_email,
        identifier=True,
    ),
    Field(
        "user.phone",
        identity(
            "phone_identity_type",
            "user_identities, Phone Identity Type",
            "user_identities, phoneIdentityType",
        ),
        "The identity of the type the setting names (default `mobile_number`).",
        step=hashed_phone,
        identifier=True,
    ),
    Field(
        "user.external_id",
        identity(
            "external_identity_type",
            "user_identities, External Identity Type",
            "user_identities, externalIdentityType",
        ),
        "The identity of the type the setting names (default `customer_id`).",
        step=hashed_external_id,
        identifier=True,
    ),
    Field(
        "user.ip",
        batch_value("ip", "ip", "runtime_environment.client_ip_address", read=to_present_text),
        "Sent as received, never hashed.",
        missing="missing_ip",
    ),
    Field(
        "user.user_agent",
        batch_value(
            "user_agent",
            "device_info.http_header_user_agent",
            "runtime_environment.http_header_user_agent",
            read=to_present_text,
        ),
        "Sent as received, never hashed.",
        missing="missing_user_agent",
    ),
    Field(
        "user.ttclid",
        flags("TikTok.Callback", "TikTok.URL"),
        "TikTok's click id from the ad's landing URL.",
        step=click_id,
        click_key=True,
    ),
    Field(
        "user.ttp",
        flag("TikTok.TTP"),
        "The value of the `_ttp` first-party cookie TikTok's pixel sets, sent as is.",
        click_key=True,
    ),
    Field(
        "user.locale",
        batch_value(
            "locale_language",
            "device_info.locale_language",
            "runtime_environment.locale_language",
            parsed="`locale`: the language lower-cased; with `locale_country` upper-cased (of `en_US`, `US`)",
        ),
        "The device's language and country.",
        step=locale,
    ),
    *(
        Field(f"user.{key}", user_attribute(name), doc, step=hashed_compact)
        for key, name, doc in (
            ("first_name", "$FirstName", "mParticle's reserved user attribute (advanced matching)."),
            ("last_name", "$LastName", "mParticle's reserved user attribute (advanced matching)."),
            ("zip_code", "$Zip", "mParticle's reserved user attribute (advanced matching)."),
        )
    ),
    *(
        Field(f"user.{key}", user_attribute(name), doc, step=address_part)
        for key, name, doc in (
            ("city", "$City", "mParticle's reserved user attribute (advanced matching)."),
            ("state", "$State", "mParticle's reserved user attribute (advanced matching)."),
            ("country", "$Country", "mParticle's reserved user attribute (advanced matching)."),
        )
    ),
    Field(
        "page.url",
        flag("TikTok.URL"),
        "The page the event happened on.",
        step=page_url,
        required="invalid_page_url",
    ),
    Field("page.referrer", flag("TikTok.Referrer"), "The page before it.", step=without_emails),
)
"""The fields of every forwarded event."""

CONTENT_FIELDS: Final = (
    Field(
        "price",
        product_value("price", "price", to_number, "invalid_price"),
        "Unit price, a plain number.",
    ),
    Field(
        "quantity",
        product_value("quantity", "quantity", to_whole_number, "invalid_quantity"),
        "A whole number of units.",
    ),
    Field("content_id", product_value("id", "id", to_text), "The product id, always a string."),
    Field("content_category", product_value("category", "category", to_text), "The product's category."),
    Field("content_name", product_value("name", "name", to_text), "The product's name."),
    Field("brand", product_value("brand", "brand", to_text), "The product's brand."),
)
"""The fields of one item of `properties.contents`, one item per product."""

COMMERCE_FIELDS: Final = (
    Field(
        "properties.contents",
        event_value(
            "products", "product_action.products", "products", parsed="each object, by the rows below"
        ),
        "One item per product with at least one field.",
        items=CONTENT_FIELDS,
    ),
    Field(
        "properties.content_ids",
        event_value(
            "products",
            "product_action.products[].id",
            "products[].id",
            parsed="each product's `id`, by the `content_id` row above",
        ),
        "The ids of the products (TikTok's Video Shopping Ads need them).",
        step=content_ids,
    ),
    Field(
        "properties.content_type",
        setting("content_type", "Content Type (`CONTENT_TYPE`)", "contentType"),
        "`product` or `product_group`.",
    ),
    Field(
        "properties.currency",
        event_value(
            "currency_code", "currency_code | product_action.currency_code", "currency_code", to_currency_code
        ),
        "ISO 4217 code, at the event's data level on the Webhook.",
        step=listed_currency,
    ),
    Field(
        "properties.value",
        event_value(
            "total_amount", "product_action.total_amount", "total_amount", to_number, "invalid_value"
        ),
        "The order's total, a plain number.",
        step=value_with_listed_currency,
    ),
    Field(
        "properties.order_id",
        event_value("transaction_id", "product_action.transaction_id", "transaction_id", to_text),
        "The transaction id, always a string.",
        step=purchase_only,
    ),
)
"""The properties of a commerce event (a Firehose `product_action`); custom mappings may override them."""

FIELDS_BY_EVENT_TYPE: Final = {"commerce_event": COMMERCE_FIELDS}
"""Fields added to `EVENT_FIELDS` for events of one type."""


def markdown() -> str:
    """These tables as the markdown file `docs/mapping-fields.md`."""
    return render_markdown(EVENT_FIELDS, FIELDS_BY_EVENT_TYPE)


if __name__ == "__main__":
    print(markdown(), end="")

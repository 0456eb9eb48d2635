"""What TikTok's Events API 2.0 accepts: event names, properties per event, currencies."""

from typing import Final

# The twelve events of mParticle's TikTok integration document, and the properties each takes
# besides `description`.
_ITEM_AND_VALUE: Final = frozenset(
    {"price", "quantity", "currency", "value", "content_id", "content_name", "content_category"}
)
_INTEGRATION_EVENT_PROPERTIES: Final[dict[str, frozenset[str]]] = {
    "AddPaymentInfo": _ITEM_AND_VALUE,
    "AddToCart": _ITEM_AND_VALUE,
    "AddToWishlist": _ITEM_AND_VALUE,
    "ClickButton": frozenset(),
    "CompletePayment": _ITEM_AND_VALUE,
    "Contact": frozenset(),
    "Download": frozenset(),
    "InitiateCheckout": _ITEM_AND_VALUE,
    "PlaceAnOrder": _ITEM_AND_VALUE,
    "Search": frozenset({"query"}),
    "Subscribe": frozenset({"currency", "value"}),
    "ViewContent": _ITEM_AND_VALUE,
}
# TikTok's newer standard names (2025 list); `Purchase` replaces CompletePayment.
_NEWER_EVENT_PROPERTIES: Final[dict[str, frozenset[str]]] = {
    "Purchase": _ITEM_AND_VALUE,
    **{
        name: frozenset({"currency", "value"})
        for name in (
            "ApplicationApproval",
            "CompleteRegistration",
            "CustomizeProduct",
            "FindLocation",
            "Lead",
            "Schedule",
            "StartTrial",
            "SubmitApplication",
            "SubmitForm",
        )
    },
}

EVENT_PROPERTIES: Final[dict[str, frozenset[str]]] = {
    name: props | {"description"}
    for name, props in (_INTEGRATION_EVENT_PROPERTIES | _NEWER_EVENT_PROPERTIES).items()
}
"""Every TikTok event a mapping may name, with the properties a custom mapping may set on it."""

ITEM_PROPERTIES: Final = frozenset({"price", "quantity", "content_id", "content_name", "content_category"})
"""Mapped properties that form one item of `properties.contents`."""

NUMBER_PROPERTIES: Final = frozenset({"value", "price"})
INTEGER_PROPERTIES: Final = frozenset({"quantity"})

CURRENCIES: Final = frozenset(
    "AED ARS AUD BDT BHD BIF BOB BRL CAD CHF CLP CNY COP CRC CZK DKK DZD EGP EUR GBP GTQ "
    "HKD HNL HUF IDR ILS INR ISK JPY KES KHR KRW KWD KZT MAD MOP MXN MYR NGN NIO NOK NZD OMR PEN PHP PKR PLN "
    "PYG QAR RON RUB SAR SEK SGD THB TRY TWD UAH USD VES VND ZAR".split()
)

NATIVE_COMMERCE_EVENTS: Final[dict[str, str]] = {
    "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist",
    "purchase": "PlaceAnOrder",
    "checkout": "InitiateCheckout",
    "view_detail": "ViewContent",
}
"""The native mapping of mParticle's TikTok integration: product action → TikTok event."""

PRODUCT_ACTIONS: Final = frozenset(
    {
        "add_to_cart",
        "remove_from_cart",
        "checkout",
        "checkout_option",
        "click",
        "view_detail",
        "purchase",
        "refund",
        "add_to_wishlist",
        "remove_from_wish_list",
    }
)

CONTENT_TYPES: Final = frozenset({"product", "product_group"})
MAX_EVENTS_PER_REQUEST: Final = 1000

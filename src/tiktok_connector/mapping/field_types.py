"""The row types of the field tables (`fields.py`): one TikTok field per row, with where its value comes
from on each mParticle route, how the parsers read it, and how the mapper formats it for TikTok.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal

from tiktok_connector.mapping.settings import MappingSettings
from tiktok_connector.model.events import Batch, Event

Reader = Callable[[object], Any]
"""An edge reader: a decoded JSON value → its typed value, or None when it cannot be read."""

Kind = Literal["batch", "event", "flag", "product", "setting", "identity", "user_attribute", "mapping"]
BATCH_KINDS = frozenset({"batch", "identity", "user_attribute"})
"""Sources that are the same for every event of a batch: their fields are formatted once per batch."""


@dataclass(slots=True)
class Scope:
    """What a formatting step may look at while one event is mapped, and where it records warnings."""

    batch: Batch
    settings: MappingSettings
    warnings: Counter[str]
    event: Event
    """The event being mapped (for the fields of the batch: none yet, a placeholder)."""
    tiktok_event: str = ""
    pending: list[str] = field(default_factory=list)
    """Warnings of the event being mapped: counted only if it is forwarded, not skipped."""

    def warn(self, name: str) -> None:
        self.pending.append(name)


Step = Callable[[Any, Scope], Any]
"""A formatting step: a present typed value → what TikTok receives, or None to leave the field out."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a field's value comes from: the typed model, and where each route carries it.

    `webhook` and `firehose` are paths (alternatives joined by ` | `) relative to the batch or request
    (kind `batch`), to an event's `data` or a Firehose event (`event`, `flag`), or to one product
    (`product`); for the other kinds they are descriptions. When `read` is set the parsers read the
    value at those paths with it into the model attribute, recording `invalid` when a present value
    cannot be read.
    """

    kind: Kind
    model: str
    get: Callable[[Any], Any] = field(repr=False, compare=False)
    webhook: str
    firehose: str
    read: Reader | None = None
    invalid: str | None = None
    parsed: str = ""
    """How the parsers read it when `read` is not set (for the documentation)."""
    expression: str | None = None
    """`get` as a Python expression on `source` (the scope, or a product for an item's value), which the
    compiled plans use instead of the call; None: the plans call `get`."""

    @property
    def attribute(self) -> str:
        """The model attribute the parsers fill (`price` of `product.price`)."""
        return self.model.rsplit(".", 1)[-1]

    def paths(self, route: Literal["webhook", "firehose"]) -> tuple[tuple[str, ...], ...]:
        text = self.webhook if route == "webhook" else self.firehose
        return tuple(tuple(path.strip().split(".")) for path in text.split("|"))


@dataclass(frozen=True, slots=True)
class Field:
    """One TikTok field: destination key, source, formatting step, and what its absence means."""

    tiktok: str
    """The key in TikTok's event (`user.ip`, `properties.value`) or in one item of a list field."""
    source: Source
    doc: str
    step: Step | None = None
    """Applied to a present value; returning None leaves the field out."""
    required: str | None = None
    """Skip reason for an event whose field has no value."""
    missing: str | None = None
    """Warning counted for a forwarded event without this field."""
    default: Callable[[], Any] | None = None
    """The value when the source has none."""
    identifier: bool = False
    """One of the user identifiers: an event needs at least one (else skipped, `no_identifiers`)."""
    click_key: bool = False
    """A TikTok click key (click id, `_ttp` cookie): with `FORWARD_ANONYMOUS_WITH_CLICK_ID`, an event that
    carries one is forwarded even when its user has no identifier."""
    items: "tuple[Field, ...]" = ()
    """For a list field: the fields of each item, read from each element of the source list."""

    @property
    def section(self) -> str:
        """The object of TikTok's event the field sits in (`user`, `page`, `properties`; "" for top)."""
        return self.tiktok.rpartition(".")[0]

    @property
    def key(self) -> str:
        return self.tiktok.rpartition(".")[2]

    @property
    def per_batch(self) -> bool:
        return self.source.kind in BATCH_KINDS


# --- sources: one constructor per kind ------------------------------------------------------------


def event_value(
    attribute: str,
    webhook: str,
    firehose: str,
    read: Reader | None = None,
    invalid: str | None = None,
    *,
    parsed: str = "",
) -> Source:
    """An attribute of the typed event; `webhook` is relative to the event's `data`."""
    getter = attrgetter(f"event.{attribute}")
    return Source(
        "event",
        f"event.{attribute}",
        getter,
        webhook,
        firehose,
        read,
        invalid,
        parsed,
        f"source.event.{attribute}",
    )


def batch_value(
    attribute: str, webhook: str, firehose: str, read: Reader | None = None, *, parsed: str = ""
) -> Source:
    """An attribute of the typed batch; paths are relative to the Webhook batch / Firehose request."""
    getter = attrgetter(f"batch.{attribute}")
    expression = f"source.batch.{attribute}"
    return Source(
        "batch", f"batch.{attribute}", getter, webhook, firehose, read, parsed=parsed, expression=expression
    )


def product_value(attribute: str, key: str, read: Reader, invalid: str | None = None) -> Source:
    """An attribute of one typed product, read from the same key of a product on both routes."""
    getter = attrgetter(attribute)
    return Source(
        "product", f"product.{attribute}", getter, key, key, read, invalid, expression=f"source.{attribute}"
    )


def flag(name: str) -> Source:
    """A custom flag of the event (flag names are compared case-insensitively)."""
    lowered = name.lower()

    def get(scope: Scope) -> str | None:
        return scope.event.custom_flags.get(lowered)

    path = f"custom_flags.{name}"
    parsed = "`custom_flags`: text (of a list, its first element), trimmed; names case-insensitive"
    expression = f"source.event.custom_flags.get({lowered!r})"
    return Source(
        "flag", f"event.custom_flags[{name!r}]", get, path, path, parsed=parsed, expression=expression
    )


def flags(*names: str) -> Source:
    """Several custom flags of the event, as a tuple of their values in this order (None for an absent
    one); None when none of them has a value."""
    lowered = tuple(name.lower() for name in names)

    def get(scope: Scope) -> tuple[str | None, ...] | None:
        found = scope.event.custom_flags
        values = tuple(map(found.get, lowered))
        return values if any(values) else None

    path = " | ".join(f"custom_flags.{name}" for name in names)
    parsed = "`custom_flags`: text (of a list, its first element), trimmed; names case-insensitive"
    model = "event.custom_flags[" + ", ".join(map(repr, names)) + "]"
    found = ", ".join(f"source.event.custom_flags.get({name!r})" for name in lowered)
    expression = f"(found if any(found := ({found},)) else None)"
    return Source("flag", model, get, path, path, parsed=parsed, expression=expression)


def setting(attribute: str, webhook: str, firehose: str) -> Source:
    """A per-connection setting (the environment for the Webhook, account settings for Firehose)."""
    getter = attrgetter(f"settings.{attribute}")
    parsed = "validated at start-up (Webhook) or for each request (Firehose)"
    expression = f"source.settings.{attribute}"
    return Source(
        "setting", f"settings.{attribute}", getter, webhook, firehose, parsed=parsed, expression=expression
    )


def identity(setting_attribute: str, webhook: str, firehose: str) -> Source:
    """The batch's identity of the type a setting chooses."""

    def get(scope: Scope) -> object:
        return scope.batch.identities.get(getattr(scope.settings, setting_attribute))

    model = f"batch.identities[settings.{setting_attribute}]"
    parsed = "`identity_text`: a non-blank string, or a JSON integer as its decimal string; types canonical"
    return Source("identity", model, get, webhook, firehose, parsed=parsed)


def user_attribute(name: str) -> Source:
    """A user attribute of the batch (names are compared case-insensitively: `$FirstName`, `$firstname`)."""
    lowered = name.lower()

    def get(scope: Scope) -> str | None:
        return scope.batch.user_attributes.get(lowered)

    path = f"user_attributes.{name}"
    parsed = "`user_attributes`: text (numbers in decimal), by lower-cased name"
    return Source("user_attribute", f"batch.user_attributes[{name!r}]", get, path, path, parsed=parsed)


def chosen_event() -> Source:
    """The TikTok event the native table or the first matching custom mapping chose."""
    text = "native table or custom mapping"
    return Source(
        "mapping", "mapping", attrgetter("tiktok_event"), text, text, expression="source.tiktok_event"
    )

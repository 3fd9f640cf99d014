"""What a caller asks to price: configured bundle lines (request) and who/where/when (context).

`parse_quote(body)` turns a JSON-like dict into a (QuoteRequest, PricingContext) pair or raises
InvalidQuote listing every field error; the REST API and the CLI share it, and the API documents
the same marshmallow schemas in OpenAPI. Quantities are integers; amounts and percentages are
strings ("5%", "12.50"): a JSON float is refused, never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from cpq.pricing.currency import MINOR_UNITS
from cpq.pricing.errors import InvalidQuote

MAX_LINES = 10_000
MAX_QUANTITY = 10_000_000


@dataclass(frozen=True)
class OptionChoice:
    """A selected option and how many units of it one bundle holds."""

    id: str
    quantity: int = 1


@dataclass(frozen=True)
class ComponentChoice:
    """A nested product of a bundle (e.g. the servers of a starter kit), configured in turn."""

    id: str
    quantity: int
    options: tuple[OptionChoice, ...] = ()


@dataclass(frozen=True)
class QuoteLine:
    """One configured bundle: a product, its selected options and how many bundles."""

    id: str
    product: str
    quantity: int = 1
    options: tuple[OptionChoice, ...] = ()
    components: tuple[ComponentChoice, ...] = ()
    group: str | None = None
    discount: Decimal | None = None  # manual discount by sales, a fraction (0.05 = 5 %)
    term_months: int | None = None


@dataclass(frozen=True)
class QuoteRequest:
    """What to price: the lines, the currency, and optional quote-wide terms."""

    currency: str
    lines: tuple[QuoteLine, ...]
    pricebook: str | None = None
    term_months: int | None = None
    discount: Decimal | None = None  # manual discount on the whole quote, a fraction


@dataclass(frozen=True)
class PricingContext:
    """Who is buying, through which channel, on which date, and who applies manual discounts."""

    on: date
    account: dict[str, str] = field(default_factory=dict)  # id, segment, country, partner, parent
    context: dict[str, str] = field(default_factory=dict)  # channel, country, partner, language
    role: str = "sales"


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class Count(fields.Integer):
    """A whole number >= 1; JSON floats and booleans are refused."""

    def __init__(self, **kw):
        super().__init__(strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY), **kw)


class PercentText(fields.Field):
    """A percentage written as text, "5%" or "12.5%"; loads as a fraction (Decimal 0.05)."""

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str) or not value.strip().endswith("%"):
            raise ValidationError('must be a percentage written as text, e.g. "5%"')
        try:
            number = Decimal(value.strip()[:-1])
        except InvalidOperation:
            raise ValidationError(f"{value!r} is not a percentage") from None
        if not number.is_finite() or not 0 <= number <= 100:
            raise ValidationError("must be between 0% and 100%")
        return number / 100

    def _serialize(self, value, attr, obj, **kw):
        return None if value is None else f"{(value * 100).normalize():f}%"


class PriceRequestOptionSchema(_Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    quantity = Count(load_default=1)

    @post_load
    def build(self, data, **kw):
        return OptionChoice(**data)


class PriceRequestComponentSchema(_Strict):
    id = fields.String(required=True, metadata={"description": "component id in the bundle's product"})
    quantity = Count(load_default=1)
    options = fields.List(fields.Nested(PriceRequestOptionSchema), load_default=list)

    @post_load
    def build(self, data, **kw):
        return ComponentChoice(data["id"], data["quantity"], tuple(data["options"]))


class PriceRequestLineSchema(_Strict):
    id = fields.String(validate=validate.Length(min=1, max=100))
    product = fields.String(required=True, validate=validate.Length(min=1, max=100))
    quantity = Count(load_default=1)
    options = fields.List(fields.Nested(PriceRequestOptionSchema), load_default=list)
    components = fields.List(fields.Nested(PriceRequestComponentSchema), load_default=list)
    group = fields.String(validate=validate.Length(max=200))
    discount = PercentText(metadata={"description": "manual discount by sales, e.g. \"5%\""})
    term_months = Count()


class PriceRequestAccountSchema(_Strict):
    id = fields.String()
    segment = fields.String()
    country = fields.String()
    partner = fields.String()
    parent = fields.String()


class PriceRequestContextSchema(_Strict):
    channel = fields.String()
    country = fields.String()
    partner = fields.String()
    language = fields.String()


class PriceRequestSchema(_Strict):
    """The body of POST /api/v1/price."""

    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)))
    date = fields.Date(metadata={"description": "pricing date (default: today)"})
    pricebook = fields.String(metadata={"description": "price from this book instead of resolving one"})
    term_months = Count()
    discount = PercentText(metadata={"description": "manual discount on the whole quote, e.g. \"3%\""})
    role = fields.String(metadata={"description": "role of the person applying manual discounts (default sales)"})
    account = fields.Nested(PriceRequestAccountSchema, load_default=dict)
    context = fields.Nested(PriceRequestContextSchema, load_default=dict)
    lines = fields.List(fields.Nested(PriceRequestLineSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_LINES))

    @validates_schema
    def unique_line_ids(self, data, **kw):
        ids = [line["id"] for line in data.get("lines", []) if "id" in line]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValidationError(f"duplicate line id(s): {', '.join(duplicates)}", "lines")


def build_quote(data: dict, today: date) -> tuple[QuoteRequest, PricingContext]:
    """Dataclasses from a body already loaded by PriceRequestSchema."""
    lines = []
    taken = {line["id"] for line in data["lines"] if "id" in line}
    counter = 0
    for raw in data["lines"]:
        line_id = raw.get("id")
        if line_id is None:
            counter += 1
            while str(counter) in taken:
                counter += 1
            line_id = str(counter)
        lines.append(QuoteLine(
            id=line_id, product=raw["product"], quantity=raw["quantity"], options=tuple(raw["options"]),
            components=tuple(raw["components"]), group=raw.get("group"), discount=raw.get("discount"),
            term_months=raw.get("term_months"),
        ))
    request = QuoteRequest(
        currency=data["currency"], lines=tuple(lines), pricebook=data.get("pricebook"),
        term_months=data.get("term_months"), discount=data.get("discount"),
    )
    context = PricingContext(
        on=data.get("date") or today, account=dict(data["account"]), context=dict(data["context"]),
        role=data.get("role") or "sales",
    )
    return request, context


def parse_quote(body: object, today: date) -> tuple[QuoteRequest, PricingContext]:
    """Validate a JSON-like body; raise InvalidQuote with every field error."""
    if not isinstance(body, dict):
        raise InvalidQuote("the quote request must be a JSON object", errors={"_schema": ["must be an object"]})
    try:
        data = PriceRequestSchema().load(body)
    except ValidationError as exc:
        raise InvalidQuote("the quote request has errors; see 'errors'", errors=exc.messages) from None
    return build_quote(data, today)

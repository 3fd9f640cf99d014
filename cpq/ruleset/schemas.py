"""marshmallow schemas for the structure of rule files (format 1); meaning is checked by the loader."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from cpq.catalog import ATTRIBUTE_TYPES, RULE_KINDS
from cpq.pricing.books import (
    CHARGES,
    ROUNDING_LEVELS,
    ROUNDING_MODES,
    STACKING,
    TIER_MODES,
    TIER_SCOPES,
)
from cpq.pricing.currency import MINOR_UNITS

ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*$")
ROLES = ("buyer", "sales", "sales_manager", "partner", "pricing_admin", "admin", "order_manager")

_id = validate.Regexp(
    ID_PATTERN,
    error="ids start with a letter and use letters, digits, '_' and single '-' between them",
)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class Id(fields.String):
    def __init__(self, **kw):
        super().__init__(validate=_id, **kw)


class Text(fields.String):
    """A string field that refuses numbers and booleans (YAML would otherwise accept `on`)."""

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str):
            raise ValidationError("must be text")
        return super()._deserialize(value, attr, data, **kw)


class OneOrMany(fields.Field):
    """An id or a list of ids."""

    def _deserialize(self, value, attr, data, **kw):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise ValidationError("must be an id or a non-empty list of ids")
        return items


class Money(fields.Field):
    """An amount written as a string ("4200.00") or a plain number; never a float."""

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValidationError("must be an amount such as \"4200.00\"")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError(f"{value!r} is not an amount") from None
        if not amount.is_finite():
            raise ValidationError(f"{value!r} is not an amount")
        return amount


class Percent(fields.Field):
    """A percentage written "5%" (or "5.5%"); loads as a fraction (0.05)."""

    def _deserialize(self, value, attr, data, **kw):
        text = str(value).strip() if isinstance(value, str | int | Decimal) else ""
        if not text.endswith("%"):
            raise ValidationError("must be a percentage such as \"5%\"")
        try:
            return Decimal(text[:-1]) / 100
        except InvalidOperation:
            raise ValidationError(f"{value!r} is not a percentage") from None


class Day(fields.Field):
    def _deserialize(self, value, attr, data, **kw):
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Count(fields.Integer):
    def __init__(self, **kw):
        super().__init__(strict=True, validate=validate.Range(min=0), **kw)


class FileHeader(StrictSchema):
    format = fields.Integer(required=True, strict=True, validate=validate.Equal(1, error="unsupported format {input}; this version reads format: 1"))
    kind = fields.String(required=True, validate=validate.OneOf(("product", "pricebook", "approvals")))


class QuantitySchema(StrictSchema):
    min = Count(load_default=1)
    max = fields.Integer(strict=True, validate=validate.Range(min=1), load_default=1)
    default = Count()


class OptionSchema(StrictSchema):
    name = Text()
    category = Id()
    attributes = fields.Dict(keys=fields.String(validate=_id), values=fields.Raw(allow_none=False))
    quantity = fields.Nested(QuantitySchema)


class FeatureSchema(StrictSchema):
    label = Text()
    min = Count(load_default=0)
    max = fields.Integer(strict=True, validate=validate.Range(min=1), load_default=1)
    options = fields.List(Id(), required=True, validate=validate.Length(min=1))
    default = OneOrMany()
    quantity = fields.Boolean(truthy={True}, falsy={False})


class ComponentSchema(StrictSchema):
    product = Id(required=True)
    min = Count(load_default=1)
    max = fields.Integer(strict=True, validate=validate.Range(min=1), load_default=1)
    default = Count()


class RequiresSchema(StrictSchema):
    if_ = OneOrMany(data_key="if", required=True)
    then = OneOrMany(required=True)


class TableSchema(StrictSchema):
    columns = fields.List(Id(), required=True, validate=validate.Length(min=2))
    allowed = fields.List(fields.List(fields.String()))
    forbidden = fields.List(fields.List(fields.String()))

    @validates_schema
    def one_of(self, data, **kw):
        if ("allowed" in data) == ("forbidden" in data):
            raise ValidationError("a table lists either 'allowed' or 'forbidden' rows")


class CardinalitySchema(StrictSchema):
    options = fields.List(Id(), validate=validate.Length(min=1))
    feature = Id()
    min = Count()
    max = Count()

    @validates_schema
    def target(self, data, **kw):
        if ("options" in data) == ("feature" in data):
            raise ValidationError("cardinality counts either 'options' or one 'feature'")
        if "min" not in data and "max" not in data:
            raise ValidationError("cardinality needs 'min', 'max' or both")


CONSTRAINT_FORMS = ("requires", "excludes", "table", "check", "cardinality", "then")


class ConstraintSchema(StrictSchema):
    id = Id(required=True)
    message = Text()
    when = Text()
    requires = fields.Nested(RequiresSchema)
    excludes = fields.List(Id(), validate=validate.Length(min=2))
    table = fields.Nested(TableSchema)
    check = Text()
    cardinality = fields.Nested(CardinalitySchema)
    then = Text()

    @validates_schema
    def exactly_one_form(self, data, **kw):
        forms = [f for f in CONSTRAINT_FORMS if f in data]
        if len(forms) != 1:
            found = ", ".join(forms) or "none"
            raise ValidationError(f"a constraint has exactly one of {', '.join(CONSTRAINT_FORMS)} (found: {found})")
        if "then" in data and "when" not in data:
            raise ValidationError("'then' needs a 'when'")


class RuleSchema(StrictSchema):
    id = Id(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(RULE_KINDS))
    message = Text()
    when = Text()
    check = Text()
    add = fields.List(Id())
    set_default = fields.Dict(keys=fields.String(validate=_id), values=Id())
    hide = fields.List(Id())

    @validates_schema
    def fits_kind(self, data, **kw):
        kind = data.get("kind")
        article = "an" if kind == "alert" else "a"
        needs = {"validation": ("check",), "alert": ("when",), "filter": ("when", "hide"), "selection": ("when",)}
        for key in needs.get(kind, ()):
            if key not in data:
                raise ValidationError(f"{article} {kind} rule needs '{key}'")
        if kind == "selection" and not (data.get("add") or data.get("set_default")):
            raise ValidationError("a selection rule needs 'add' or 'set_default'")
        if kind in ("validation", "alert") and "message" not in data:
            raise ValidationError(f"{article} {kind} rule needs a 'message' for the buyer")
        uses = {"validation": {"when", "check"}, "alert": {"when"}, "filter": {"when", "hide"},
                "selection": {"when", "add", "set_default"}}
        stray = sorted({"when", "check", "add", "set_default", "hide"} & set(data) - uses.get(kind, set()))
        if stray:
            raise ValidationError(f"{article} {kind} rule does not use {', '.join(repr(k) for k in stray)}")


class ProductSchema(StrictSchema):
    name = Text(required=True)
    category = Id()
    attributes = fields.Dict(keys=fields.String(validate=_id), values=fields.Raw())
    features = fields.Dict(keys=fields.String(validate=_id), values=fields.Nested(FeatureSchema))
    components = fields.Dict(keys=fields.String(validate=_id), values=fields.Nested(ComponentSchema))
    constraints = fields.List(fields.Nested(ConstraintSchema))
    rules = fields.List(fields.Nested(RuleSchema))


class ProductFileSchema(FileHeader):
    family = Id(required=True)
    name = Text()
    category = Id()
    attributes = fields.Dict(keys=fields.String(validate=_id), values=fields.String(validate=validate.OneOf(ATTRIBUTE_TYPES)))
    options = fields.Dict(keys=fields.String(validate=_id), values=fields.Nested(OptionSchema))
    products = fields.Dict(keys=fields.String(validate=_id), values=fields.Nested(ProductSchema), required=True)


class EffectiveSchema(StrictSchema):
    from_ = Day(data_key="from")
    to = Day()


class RoundingSchema(StrictSchema):
    # unset parts come from the book this one extends (half_up per line at the root)
    mode = fields.String(validate=validate.OneOf(ROUNDING_MODES))
    level = fields.String(validate=validate.OneOf(ROUNDING_LEVELS))


class BandSchema(StrictSchema):
    from_ = fields.Integer(data_key="from", strict=True, required=True, validate=validate.Range(min=0))
    to = fields.Integer(strict=True, validate=validate.Range(min=1), allow_none=True)
    unit = Money()
    flat = Money()

    @validates_schema
    def priced(self, data, **kw):
        if "unit" not in data and "flat" not in data:
            raise ValidationError("a band needs a 'unit' price, a 'flat' fee or both")


class OverageSchema(StrictSchema):
    unit = Money(required=True)
    per = fields.Integer(strict=True, validate=validate.Range(min=1), load_default=1)


class PriceSchema(StrictSchema):
    unit = Money()
    tiers = fields.String(validate=validate.OneOf(TIER_MODES))
    scope = fields.String(validate=validate.OneOf(TIER_SCOPES), load_default="line")
    bands = fields.List(fields.Nested(BandSchema))
    overage = fields.Nested(OverageSchema)
    formula = Text()
    charge = fields.String(validate=validate.OneOf(CHARGES), load_default="one_time")
    term_months = fields.Integer(strict=True, validate=validate.Range(min=1))
    cost = Money()
    effective = fields.Nested(EffectiveSchema)

    @validates_schema
    def one_kind(self, data, **kw):
        kinds = [k for k in ("unit", "tiers", "formula") if k in data]
        if len(kinds) != 1:
            raise ValidationError("a price has exactly one of 'unit', 'tiers' or 'formula'")
        if "tiers" in data and not data.get("bands"):
            raise ValidationError("tiers need 'bands'")
        if "tiers" not in data and ("bands" in data or "overage" in data):
            raise ValidationError("'bands' and 'overage' belong to tiered prices")
        if "overage" in data and data.get("tiers") != "block":
            raise ValidationError("'overage' applies to block tiers only")
        if data.get("charge") in ("monthly", "annual") and "term_months" not in data:
            raise ValidationError("recurring prices need 'term_months'")


_PRICE = PriceSchema()  # one instance: building a schema per price entry dominated large pricebooks


class PriceField(fields.Field):
    """A price: "4200.00", a price mapping, or a list of dated price mappings."""

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
            return Money()._deserialize(value, attr, data)
        if isinstance(value, dict):
            return _PRICE.load(value)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            errors, out = {}, []
            for i, v in enumerate(value):
                try:
                    out.append(_PRICE.load(v))
                except ValidationError as exc:
                    errors[i] = exc.messages
            if errors:
                raise ValidationError(errors)
            return out
        raise ValidationError("must be an amount, a price mapping or a list of dated prices")


class AppliesToSchema(StrictSchema):
    products = fields.List(Id())
    categories = fields.List(Id())
    families = fields.List(Id())
    accounts = fields.List(fields.String())


class AdjustmentSchema(StrictSchema):
    id = Id(required=True)
    label = Text()
    when = Text()
    applies_to = fields.Nested(AppliesToSchema)
    discount = Percent()
    markup = Percent()
    amount_off = Money()
    price = Money()
    priority = fields.Integer(strict=True, load_default=0)
    stack = fields.String(validate=validate.OneOf(STACKING))
    effective = fields.Nested(EffectiveSchema)

    @validates_schema
    def one_effect(self, data, **kw):
        effects = [k for k in ("discount", "markup", "amount_off", "price") if k in data]
        if len(effects) != 1:
            raise ValidationError("an adjustment has exactly one of discount, markup, amount_off, price")


class FloorSchema(StrictSchema):
    id = Id(required=True)
    when = Text()
    applies_to = fields.Nested(AppliesToSchema)
    min_price = Money()
    max_discount = Percent()

    @validates_schema
    def one_limit(self, data, **kw):
        if ("min_price" in data) == ("max_discount" in data):
            raise ValidationError("a floor has exactly one of min_price or max_discount")


class TaxSchema(StrictSchema):
    rates = fields.Dict(keys=fields.String(validate=_id), values=Percent(), required=True)
    default = Id()
    categories = fields.Dict(keys=fields.String(validate=_id), values=Id())


class TablePath(Text):
    """A CSV table beside the pricebook (a path relative to the book's file)."""

    def _deserialize(self, value, attr, data, **kw):
        text = super()._deserialize(value, attr, data, **kw)
        if not text.endswith(".csv") or text.startswith("/"):
            raise ValidationError("a table is a .csv file named relative to this pricebook, e.g. 'list-usd-prices.csv'")
        return text


class PricebookFileSchema(FileHeader):
    id = Id(required=True)
    name = Text()
    currency = fields.String(validate=validate.OneOf(sorted(MINOR_UNITS), error="unknown ISO 4217 currency {input!r}"))
    extends = Id()
    channel = Id()
    account = fields.String()
    partner = fields.String()
    rounding = fields.Nested(RoundingSchema)
    effective = fields.Nested(EffectiveSchema)
    tax = fields.Nested(TaxSchema)
    prices = fields.Dict(keys=fields.String(validate=_id), values=PriceField())
    price_tables = fields.List(TablePath())  # CSV price lists (docs/rule-files.md 4.10)
    adjustments = fields.List(fields.Nested(AdjustmentSchema))
    adjustment_tables = fields.List(TablePath())
    floors = fields.List(fields.Nested(FloorSchema))

    @validates_schema
    def currency_or_parent(self, data, **kw):
        if "currency" not in data and "extends" not in data:
            raise ValidationError("a pricebook names its 'currency' (or 'extends' one that does)")


class ApprovalPolicySchema(StrictSchema):
    id = Id(required=True)
    when = Text(required=True)
    requires = fields.String(required=True, validate=validate.OneOf(ROLES))
    message = Text(required=True)


class ApprovalsFileSchema(FileHeader):
    id = Id(required=True)
    name = Text()
    discount_limits = fields.Dict(keys=fields.String(validate=validate.OneOf(ROLES)), values=Percent())
    policies = fields.List(fields.Nested(ApprovalPolicySchema), required=True)


FILE_SCHEMAS = {
    "product": ProductFileSchema,
    "pricebook": PricebookFileSchema,
    "approvals": ApprovalsFileSchema,
}

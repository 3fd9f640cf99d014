"""POST /api/v1/price and /api/v1/price:batch: price configured bundles with the live Ruleset."""

from __future__ import annotations

from datetime import date

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from cpq.api.auth import BEARER, current_user
from cpq.errors import CPQError, InvalidInput
from cpq.pricing.engine import price_quote
from cpq.pricing.report import quote_as_json
from cpq.pricing.request import PriceRequestSchema, build_quote
from cpq.quotes.revision import account_fields
from cpq.rulesets import active_ruleset
from cpq.services.quotes import visible_priced
from cpq.store import engine
from cpq.store.people import visible_account

blp = Blueprint("pricing", __name__, url_prefix="/api/v1", description="Price quotes: lines, waterfall, totals")

MAX_BATCH = 100


class PriceStepSchema(Schema):
    kind = fields.String(metadata={"description": "list, tier, contract, adjustment, manual, floor or rounding"})
    label = fields.String()
    before = fields.String(allow_none=True, metadata={"description": "amount before the step (text)"})
    after = fields.String(metadata={"description": "amount after the step (text)"})
    rule_id = fields.String(allow_none=True, metadata={"description": "rule, pricebook or policy that made it"})
    source = fields.String(allow_none=True, metadata={"description": "file:line:col of that rule"})
    note = fields.String()


class PricedItemSchema(Schema):
    sku = fields.String()
    name = fields.String()
    role = fields.String(metadata={"description": "product, option or component"})
    category = fields.String()
    quantity = fields.Integer()
    units_per_bundle = fields.Integer()
    charge = fields.String(metadata={"description": "one_time, monthly or annual"})
    term_months = fields.Integer(allow_none=True)
    pricebook = fields.String()
    list = fields.String()
    net = fields.String(metadata={"description": "price per charge period"})
    total = fields.String(metadata={"description": "net over the term"})
    waterfall = fields.List(fields.Nested(PriceStepSchema))


class PricedLineSchema(Schema):
    id = fields.String()
    product = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    group = fields.String()
    manual_discount = fields.String(allow_none=True)
    needs_approval = fields.String(allow_none=True)
    one_time = fields.String()
    monthly = fields.String()
    annual = fields.String()
    total = fields.String()
    items = fields.List(fields.Nested(PricedItemSchema))


class TaxLineSchema(Schema):
    rate = fields.String()
    percent = fields.String()
    base = fields.String()
    tax = fields.String()


class PriceTotalsSchema(Schema):
    list = fields.String()
    one_time = fields.String()
    monthly = fields.String()
    annual = fields.String()
    mrr = fields.String()
    arr = fields.String()
    net = fields.String(metadata={"description": "total contract value before tax"})
    by_group = fields.Dict(keys=fields.String(), values=fields.String())
    tax = fields.List(fields.Nested(TaxLineSchema))
    tax_total = fields.String()
    grand_total = fields.String()
    discount_percent = fields.String()
    margin_percent = fields.String(allow_none=True)


class PriceApprovalSchema(Schema):
    kind = fields.String(metadata={"description": "policy or discount_limit"})
    role = fields.String()
    reason = fields.String()
    rule_id = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    line = fields.String(allow_none=True)


class RoundingPolicySchema(Schema):
    mode = fields.String()
    level = fields.String()


class PricedQuoteSchema(Schema):
    currency = fields.String()
    date = fields.String()
    ruleset_version = fields.String()
    pricebooks = fields.List(fields.String())
    pricebook_reason = fields.String()
    rounding = fields.Nested(RoundingPolicySchema)
    term_months = fields.Integer()
    lines = fields.List(fields.Nested(PricedLineSchema))
    totals = fields.Nested(PriceTotalsSchema)
    approvals = fields.List(fields.Nested(PriceApprovalSchema))


class PriceBatchRequestSchema(Schema):
    quotes = fields.List(fields.Nested(PriceRequestSchema), required=True,
                         validate=validate.Length(min=1, max=MAX_BATCH))


class PriceBatchResultSchema(Schema):
    quote = fields.Nested(PricedQuoteSchema, allow_none=True)
    error = fields.Dict(allow_none=True, metadata={"description": "an RFC 9457 problem for this quote"})


class PriceBatchResponseSchema(Schema):
    results = fields.List(fields.Nested(PriceBatchResultSchema))


def _price(ruleset, data: dict) -> dict:
    request, context = build_quote(_as_caller(data), date.today())
    priced = quote_as_json(price_quote(ruleset, request, context))
    return visible_priced(priced, current_user())


def _as_caller(data: dict) -> dict:
    """Price as the authenticated caller: their role sets discount limits, and an account is one they
    may see, described by the database (contract prices are never granted by what a body claims)."""
    user = current_user()
    data = dict(data, role=user.role)
    context = dict(data.get("context") or {})
    if user.role == "partner":  # a partner prices through its own partner book, never another's
        context.update(partner=user.partner_id, channel="partner")
    elif user.role == "buyer":
        context.pop("partner", None)
    data["context"] = context
    account_id = (data.get("account") or {}).get("id") or (user.account_id if user.role == "buyer" else None)
    if account_id is None:
        if user.role in ("buyer", "partner"):
            raise InvalidInput("name the account to price for", errors={"account": {"id": ["required for your role"]}})
        data["account"] = {}
        return data
    with engine().connect() as conn:
        account = visible_account(conn, user, account_id)
    data["account"] = account_fields(account)
    if account.partner_id:
        context["partner"] = account.partner_id
    data["context"] = context
    return data


@blp.route("/price")
class Price(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(PriceRequestSchema)
    @blp.response(200, PricedQuoteSchema)
    def post(self, data):
        """Price configured bundle lines: every item's waterfall, totals, tax and approvals."""
        current_user()
        return _price(active_ruleset(), data)


@blp.route("/price:batch")
class PriceBatch(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(PriceBatchRequestSchema)
    @blp.response(200, PriceBatchResponseSchema)
    def post(self, data):
        """Price up to 100 quotes with one ruleset version; a failing quote gets its own problem."""
        current_user()
        ruleset = active_ruleset()
        results = []
        for quote in data["quotes"]:
            try:
                results.append({"quote": _price(ruleset, quote), "error": None})
            except CPQError as exc:
                results.append({"quote": None, "error": {
                    "type": f"https://cpq.dev/problems/{exc.code}", "title": exc.title, "status": exc.status,
                    "detail": exc.detail, "code": exc.code, **exc.extra}})
        return {"results": results}

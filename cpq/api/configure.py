"""POST /api/v1/products/{id}/configure|validate|complete|explain: the configurator over HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from cpq import configurator
from cpq.accounts import User
from cpq.api.auth import current_user, has_credentials
from cpq.configurator.errors import InvalidSelection
from cpq.configurator.selection import Selection
from cpq.configurator.service import product_model
from cpq.errors import CPQError
from cpq.quotes.revision import account_fields
from cpq.ruleset.model import Ruleset
from cpq.ruleset.scopes import CONTEXT_FIELDS
from cpq.rulesets import active_ruleset
from cpq.store import engine
from cpq.store.people import visible_account

blp = Blueprint("configure", __name__, url_prefix="/api/v1/products",
                description="Configure a product: valid domains, validation, completion, conflicts")


# ---------------------------------------------------------------------------- requests


class Quantity(fields.Field):
    """`true` / `null` (chosen, any allowed quantity), a whole number (0 = left out), or `false`."""

    def _deserialize(self, value, attr, data, **kw):
        if value is True or value is None:
            return None
        if value is False:
            return 0
        if isinstance(value, int) and value >= 0:
            return value
        raise ValidationError("must be true, null or a whole number ≥ 0")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


def _text_fields_schema(name: str, group: str) -> type[Schema]:
    """A strict schema of one context group's text fields (context.country → {"country": …})."""
    attrs = {field: fields.String() for field in CONTEXT_FIELDS[group]}
    return type(name, (StrictSchema,), attrs)


ContextSchema = _text_fields_schema("ConfigureContextSchema", "context")
AccountSchema = _text_fields_schema("ConfigureAccountSchema", "account")


class ConfigureRequestSchema(StrictSchema):
    options = fields.Dict(keys=fields.String(), values=Quantity(allow_none=True), load_default=dict,
                          metadata={"description": "chosen options: true (any quantity) or a quantity"})
    excluded = fields.List(fields.String(), load_default=list, metadata={"description": "options the buyer ruled out"})
    components = fields.Dict(keys=fields.String(), values=fields.Integer(strict=True), load_default=dict,
                             metadata={"description": "bundle component quantities"})
    context = fields.Nested(ContextSchema, load_default=dict)
    account = fields.Nested(AccountSchema, load_default=dict)
    reasons = fields.Boolean(load_default=True, metadata={"description": "explain every blocked option"})


class CompleteRequestSchema(ConfigureRequestSchema):
    objective = fields.String(load_default="defaults", validate=validate.OneOf(("defaults", "cheapest")))
    pricebook = fields.String(metadata={"description": "take list prices from this pricebook (cheapest)"})
    prices = fields.Dict(keys=fields.String(), values=fields.Decimal(), metadata={
        "description": "list price per option (cheapest); overrides the pricebook's"})


class ExplainRequestSchema(ConfigureRequestSchema):
    max_repairs = fields.Integer(load_default=3, validate=validate.Range(min=0, max=10))


# ---------------------------------------------------------------------------- responses


class RuleSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "feature, requires, excludes, table, cardinality, check, "
                                                  "conditional, validation or filter"})
    message = fields.String()
    source = fields.String(allow_none=True, metadata={"description": "file:line of the rule"})


class ReasonSchema(Schema):
    choices = fields.List(fields.Dict(), metadata={"description": "the buyer's choices that take part"})
    rules = fields.List(fields.Nested(RuleSchema))
    context = fields.List(fields.String(), metadata={"description": "context facts that take part"})


class RangeSchema(Schema):
    min = fields.Integer()
    max = fields.Integer()


class OptionStateSchema(Schema):
    id = fields.String()
    feature = fields.String()
    state = fields.String(metadata={"description": "selected, required, selectable, excluded or blocked"})
    selectable = fields.Boolean()
    removable = fields.Boolean()
    hidden = fields.Boolean(metadata={"description": "blocked by a filter rule for this context"})
    quantity = fields.Nested(RangeSchema, allow_none=True, metadata={"description": "feasible quantity range"})
    reasons = fields.List(fields.Nested(ReasonSchema))


class FeatureStateSchema(Schema):
    id = fields.String()
    label = fields.String()
    min = fields.Integer()
    max = fields.Integer()
    default = fields.List(fields.String())
    options = fields.List(fields.Nested(OptionStateSchema))


class ComponentStateSchema(Schema):
    id = fields.String()
    product = fields.String()
    quantity = fields.Nested(RangeSchema, allow_none=True)


class AlertSchema(Schema):
    id = fields.String()
    message = fields.String()
    source = fields.String()


class AddedSchema(Schema):
    rule = fields.String()
    option = fields.String()


class RuleConflictSchema(Schema):
    rule = fields.String()
    option = fields.String()
    message = fields.String()
    source = fields.String()
    reason = fields.Nested(ReasonSchema, allow_none=True)


class RepairSchema(Schema):
    remove = fields.List(fields.Dict())
    actions = fields.List(fields.Dict(), metadata={"description": "remove, change (to), quantity (to) or allow"})


class ExplanationSchema(Schema):
    consistent = fields.Boolean()
    conflict = fields.List(fields.Dict(), metadata={"description": "a minimal set of conflicting choices"})
    rules = fields.List(fields.Nested(RuleSchema))
    context = fields.List(fields.String())
    repairs = fields.List(fields.Nested(RepairSchema))


class SelectionSchema(Schema):
    options = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    excluded = fields.List(fields.String())
    components = fields.Dict(keys=fields.String(), values=fields.Integer())


class ConfigureResponseSchema(Schema):
    product = fields.String()
    ruleset_version = fields.String()
    consistent = fields.Boolean()
    selection = fields.Nested(SelectionSchema, metadata={"description": "the selection after selection rules"})
    added = fields.List(fields.Nested(AddedSchema), metadata={"description": "options added by selection rules"})
    rule_conflicts = fields.List(fields.Nested(RuleConflictSchema))
    defaults = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "feature → default option set by a selection rule"})
    features = fields.List(fields.Nested(FeatureStateSchema))
    components = fields.List(fields.Nested(ComponentStateSchema))
    alerts = fields.List(fields.Nested(AlertSchema))
    conflict = fields.Nested(ExplanationSchema, allow_none=True)


class ViolationSchema(RuleSchema):
    options = fields.List(fields.String())


class ConfigurationSchema(Schema):
    options = fields.Dict(keys=fields.String(), values=fields.Integer())
    components = fields.Dict(keys=fields.String(), values=fields.Integer())


class ValidateResponseSchema(Schema):
    product = fields.String()
    ruleset_version = fields.String()
    valid = fields.Boolean()
    configuration = fields.Nested(ConfigurationSchema)
    violations = fields.List(fields.Nested(ViolationSchema))
    alerts = fields.List(fields.Nested(AlertSchema))


class CompleteResponseSchema(Schema):
    product = fields.String()
    ruleset_version = fields.String()
    objective = fields.String()
    configuration = fields.Nested(ConfigurationSchema)
    cost = fields.String(allow_none=True, metadata={"description": "Σ list price × quantity (cheapest)"})
    unpriced = fields.List(fields.String())
    added = fields.List(fields.Nested(AddedSchema))
    rule_conflicts = fields.List(fields.Nested(RuleConflictSchema))
    alerts = fields.List(fields.Nested(AlertSchema))


class ExplainResponseSchema(ExplanationSchema):
    product = fields.String()
    ruleset_version = fields.String()


# ---------------------------------------------------------------------------- helpers


def _selection(data: dict) -> Selection:
    return Selection(data["options"], tuple(data["excluded"]), data["components"])


def _context(data: dict) -> dict[str, str]:
    """The rule context: from the body for anonymous calls (a what-if); for a signed-in caller the
    account comes from the database (a buyer's own, or one the caller may see), a partner's partner
    and channel are their own and a buyer's channel is `web`, so that filter rules and context
    constraints cannot be talked around."""
    context, account = dict(data["context"]), dict(data["account"])
    if has_credentials():
        context, account = _caller_context(current_user(), context, account)
    out = {f"context.{k}": v for k, v in context.items()}
    out.update({f"account.{k}": v for k, v in account.items()})
    return out


def _caller_context(user: User, context: dict, account: dict) -> tuple[dict, dict]:
    if user.role == "partner":
        context.update(partner=user.partner_id, channel="partner")
    elif user.role == "buyer":  # a buyer configures self-service: the web channel's rules apply
        context.pop("partner", None)
        context["channel"] = "web"
    account_id = user.account_id if user.role == "buyer" else account.get("id")
    if account_id is None:
        return context, ({} if user.role in ("buyer", "partner") else account)
    with engine().connect() as conn:
        found = visible_account(conn, user, account_id)
    if found.partner_id:
        context["partner"] = found.partner_id
    return context, account_fields(found)


def _list_prices(ruleset: Ruleset, book_id: str, skus) -> dict[str, Decimal]:
    """Each SKU's list unit price in the book's chain today (tiered: the first band's unit price)."""
    from cpq.pricing.resolve import find_price, resolve_chain

    book = ruleset.pricebooks.get(book_id)
    if book is None:
        raise InvalidSelection(f"unknown pricebook '{book_id}'",
                               errors=[{"code": "invalid_selection", "field": "pricebook", "message": "unknown pricebook"}])
    today = date.today()
    chain = resolve_chain(ruleset.pricebooks, book.currency, today, {}, {}, explicit=book_id)
    prices = {}
    for sku in skus:
        try:
            entry = find_price(chain, sku, today).entry
        except CPQError:
            continue
        if entry.unit is not None:
            prices[sku] = entry.unit
        elif entry.tiers is not None and entry.tiers.bands and entry.tiers.bands[0].unit is not None:
            prices[sku] = entry.tiers.bands[0].unit
    return prices


def _rule_conflicts(conflicts) -> list[dict]:
    return [c.as_dict() for c in conflicts]


def _added(pairs) -> list[dict]:
    return [{"rule": rule, "option": option} for rule, option in pairs]


# ---------------------------------------------------------------------------- views


@blp.route("/<product_id>/configure")
class Configure(MethodView):
    @blp.arguments(ConfigureRequestSchema)
    @blp.response(200, ConfigureResponseSchema)
    def post(self, data, product_id: str):
        """One configuration step: selection rules, then every option's state with reasons, and alerts."""
        ruleset = active_ruleset()
        result = configurator.configure(ruleset, product_id, _selection(data), _context(data), reasons=data["reasons"])
        product = ruleset.products[result.product]
        doms = result.domains
        chosen = {c.target: c.quantity for c in result.outcome.choices if c.kind == "option"}
        return {
            "product": product.id,
            "ruleset_version": ruleset.version,
            "consistent": result.consistent,
            "selection": {"options": chosen,
                          "excluded": [c.target for c in result.outcome.choices if c.kind == "excluded"],
                          "components": {c.target: c.quantity for c in result.outcome.choices if c.kind == "component"}},
            "added": _added(result.outcome.added),
            "rule_conflicts": _rule_conflicts(result.conflicts),
            "defaults": {f: {"option": o, "rule": r} for f, (o, r) in result.outcome.defaults.items()},
            "features": [
                {"id": f.id, "label": f.label, "min": f.min, "max": f.max,
                 "default": [result.outcome.defaults[f.id][0]] if f.id in result.outcome.defaults else list(f.default),
                 "options": [doms.options[o].as_dict() for o in f.options] if doms.options else []}
                for f in product.features
            ],
            "components": [{"id": c.id, "product": c.product,
                            "quantity": ({"min": doms.components[c.id][0], "max": doms.components[c.id][1]}
                                         if doms.components.get(c.id) else None)}
                           for c in product.components],
            "alerts": result.alerts,
            "conflict": result.explanation.as_dict() if result.explanation else None,
        }


@blp.route("/<product_id>/validate")
class Validate(MethodView):
    @blp.arguments(ConfigureRequestSchema)
    @blp.response(200, ValidateResponseSchema)
    def post(self, data, product_id: str):
        """Judge a full configuration: every violated constraint and validation rule, and the alerts."""
        ruleset = active_ruleset()
        result = configurator.validate(ruleset, product_id, _selection(data), _context(data))
        return {"product": product_id, "ruleset_version": ruleset.version, "valid": result.valid,
                "configuration": result.configuration.as_dict(),
                "violations": [v.as_dict() for v in result.violations], "alerts": result.alerts}


@blp.route("/<product_id>/complete")
class Complete(MethodView):
    @blp.arguments(CompleteRequestSchema)
    @blp.response(200, CompleteResponseSchema)
    def post(self, data, product_id: str):
        """A full valid configuration extending the selection: defaults first, or the cheapest."""
        ruleset = active_ruleset()
        prices = None
        if data["objective"] == "cheapest":
            product = product_model(ruleset, product_id).product
            prices = _list_prices(ruleset, data["pricebook"], product.option_ids) if data.get("pricebook") else {}
            prices.update(data.get("prices") or {})
        result = configurator.complete(ruleset, product_id, _selection(data), _context(data),
                                       objective=data["objective"], prices=prices)
        checked = configurator.validate(ruleset, product_id, Selection(result.configuration.options, (),
                                                                       result.configuration.components), _context(data))
        return {"product": product_id, "ruleset_version": ruleset.version, "objective": result.objective,
                "configuration": result.configuration.as_dict(),
                "cost": str(result.cost) if result.cost is not None else None, "unpriced": result.unpriced,
                "added": _added(result.added), "rule_conflicts": _rule_conflicts(result.conflicts),
                "alerts": checked.alerts}


@blp.route("/<product_id>/explain")
class Explain(MethodView):
    @blp.arguments(ExplainRequestSchema)
    @blp.response(200, ExplainResponseSchema)
    def post(self, data, product_id: str):
        """Why a selection is inconsistent: a minimal conflict set, its rules, and minimal repairs."""
        ruleset = active_ruleset()
        result = configurator.explain(ruleset, product_id, _selection(data), _context(data),
                                      max_repairs=data["max_repairs"])
        return {"product": product_id, "ruleset_version": ruleset.version, **result.as_dict()}

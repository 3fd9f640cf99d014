"""Orders over REST: order a quote, follow its orders, the order management contract, status events, dead letters.

- `POST /api/v1/quotes/{id}/order` (sales, If-Match) orders all or part of an accepted quote.
- `POST /api/v1/orders` is the order management contract (docs/order-management.md) as the builtin
  order management serves it: the same body and answers an external one must give (201 created,
  200 the same Idempotency-Key again, 409 key reused with another order, 422 not a valid order).
- `POST /api/v1/orders/{id}/events` is the status callback: received → in_fulfilment → shipped →
  closed | cancelled, sent by order management (or an order manager for the builtin one).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from cpq.api.auth import BEARER, current_user, require_role
from cpq.api.quotes import QuoteSchema
from cpq.errors import InvalidInput
from cpq.orders import contract, outbox, records
from cpq.orders import service as orders
from cpq.orders import status as order_status
from cpq.orders.settings import OrderSettings
from cpq.pricing.currency import MINOR_UNITS
from cpq.services import quotes as quote_service
from cpq.store import engine

blp = Blueprint("orders", __name__, url_prefix="/api/v1",
                description="Quote → order: ordering, the order management contract, status events, dead letters")
# a typo in CPQ_ORDER_SPLIT_BY stops the app from starting instead of failing each acceptance
blp.record_once(lambda state: OrderSettings.from_config(state.app.config).check_ordering())

MAX_QUANTITY = 1_000_000
MONEY = validate.Regexp(r"^-?\d{1,15}(\.\d{1,6})?$", error='an amount written as text, e.g. "1234.50"')
CHARGES = ("one_time", "monthly", "annual")
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"},
                   "description": "one key per order; the same key again answers with the same order (200)"}


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _text(max_length: int, **kw):
    return fields.String(validate=validate.Length(max=max_length), **kw)


# --- ordering a quote ----------------------------------------------------------------------------------------


class OrderLineRequestSchema(Strict):
    line_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    requested_date = fields.Date(allow_none=True, load_default=None)


class OrderRequestSchema(Strict):
    lines = fields.List(fields.Nested(OrderLineRequestSchema), validate=validate.Length(min=1, max=500),
                        metadata={"description": "what to order; without it, everything not yet ordered"})
    split_by = fields.String(allow_none=True, validate=validate.OneOf(contract.SPLIT_FIELDS),
                             metadata={"description": "one order per distinct value of this line field"})
    requested_date = fields.Date(allow_none=True, metadata={"description": "when the buyer wants it delivered"})


class LedgerLineSchema(Schema):
    line_id = fields.String()
    product = fields.String()
    quoted = fields.Integer()
    ordered = fields.Integer(metadata={"description": "ordered, being ordered, or held by a dead letter"})
    remaining = fields.Integer()


class OrderPartLineSchema(Schema):
    line_id = fields.String()
    quantity = fields.Integer()
    requested_date = fields.String(allow_none=True)


class QuoteOrderSchema(Schema):
    order_number = fields.String()
    batch = fields.Integer()
    delivery = fields.String(validate=validate.OneOf(outbox.STATUSES),
                             metadata={"description": "pending | sent | failed (refused) | dead (dead letter)"})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    last_http_status = fields.Integer(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    order_id = fields.String(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "the order's status in order management"})
    requested_date = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(OrderPartLineSchema))


class QuoteOrdersSchema(Schema):
    quote = fields.String()
    state = fields.String()
    order_id = fields.String(allow_none=True)
    failure = fields.String(allow_none=True, metadata={"description": "why the quote is order_failed"})
    lines = fields.List(fields.Nested(LedgerLineSchema))
    orders = fields.List(fields.Nested(QuoteOrderSchema))


# --- the order management contract -------------------------------------------------------------------------


class ContractQuoteSchema(Strict):
    number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    revision = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=1_000_000))
    document_hash = fields.String(required=True, validate=validate.Length(equal=64))
    ruleset_version = fields.String(required=True, validate=validate.Length(max=64))
    accepted_by = _text(200, allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)


class ContractAccountSchema(Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = _text(200, allow_none=True)
    country = _text(2, allow_none=True)
    tax_id = _text(64, allow_none=True)
    address = _text(2000, allow_none=True)


class ContractItemSchema(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = _text(200, allow_none=True)
    role = _text(32, allow_none=True)
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=1_000_000_000))
    charge = fields.String(required=True, validate=validate.OneOf(CHARGES))
    term_months = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=1200))
    net = fields.String(required=True, validate=MONEY,
                        metadata={"description": "locked price of the ordered quantity, per charge period"})
    total = fields.String(required=True, validate=MONEY, metadata={"description": "over the whole term"})


class ContractConfigurationSchema(Strict):
    options = fields.List(fields.Dict(), load_default=list, validate=validate.Length(max=200))
    components = fields.List(fields.Dict(), load_default=list, validate=validate.Length(max=50))


class ContractLineSchema(Strict):
    position = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=10_000))
    line_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    product = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = _text(200, allow_none=True)
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    quoted_quantity = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    requested_date = fields.Date(allow_none=True)
    configuration = fields.Nested(ContractConfigurationSchema, required=True)
    items = fields.List(fields.Nested(ContractItemSchema), required=True, validate=validate.Length(min=1, max=500))
    total = fields.String(required=True, validate=MONEY)


class ContractRecurringSchema(Strict):
    line_id = fields.String(required=True, validate=validate.Length(max=100))
    sku = fields.String(required=True, validate=validate.Length(max=100))
    charge = fields.String(required=True, validate=validate.OneOf(("monthly", "annual")))
    term_months = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=1200))
    amount_per_period = fields.String(required=True, validate=MONEY)
    contract_value = fields.String(required=True, validate=MONEY)


class ContractTotalsSchema(Strict):
    one_time = fields.String(required=True, validate=MONEY)
    monthly = fields.String(required=True, validate=MONEY)
    annual = fields.String(required=True, validate=MONEY)
    contract_value = fields.String(required=True, validate=MONEY)


class OrderContractSchema(Strict):
    """The order as cpq sends it to order management (contract version 1)."""

    contract_version = fields.Integer(strict=True, required=True, validate=validate.Equal(contract.CONTRACT_VERSION))
    order_number = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                 metadata={"description": "derived from the quote: Q-2026-000123 → O-2026-000123-1"})
    quote = fields.Nested(ContractQuoteSchema, required=True)
    account = fields.Nested(ContractAccountSchema, required=True)
    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)))
    requested_date = fields.Date(allow_none=True)
    payment_terms = _text(2000, allow_none=True)
    delivery_terms = _text(2000, allow_none=True)
    lines = fields.List(fields.Nested(ContractLineSchema), required=True, validate=validate.Length(min=1, max=500))
    recurring = fields.List(fields.Nested(ContractRecurringSchema), required=True,
                            validate=validate.Length(max=5000))
    totals = fields.Nested(ContractTotalsSchema, required=True)


class OrderItemSchema(Schema):
    sku = fields.String()
    name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    quantity = fields.Integer()
    charge = fields.String()
    term_months = fields.Integer(allow_none=True)
    net = fields.String()
    total = fields.String()


class OrderLineSchema(Schema):
    position = fields.Integer()
    line_id = fields.String()
    product = fields.String()
    name = fields.String(allow_none=True)
    quantity = fields.Integer()
    requested_date = fields.Date(allow_none=True)
    total = fields.String()
    items = fields.List(fields.Nested(OrderItemSchema))


class OrderQuoteRefSchema(Schema):
    number = fields.String()
    revision = fields.Integer()
    document_hash = fields.String()


class OrderEventRecordSchema(Schema):
    event_id = fields.String()
    status = fields.String()
    previous_status = fields.String()
    note = fields.String(allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime()


class OrderSchema(Schema):
    id = fields.String(required=True)
    number = fields.String(required=True)
    external_id = fields.String(allow_none=True, metadata={"description": "its id in the order management"})
    connector = fields.String(metadata={"description": "builtin | http"})
    status = fields.String(validate=validate.OneOf(order_status.STATUSES))
    allowed_statuses = fields.List(fields.String())
    quote = fields.Nested(OrderQuoteRefSchema)
    account_id = fields.String()
    currency = fields.String()
    requested_date = fields.Date(allow_none=True)
    total = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    lines = fields.List(fields.Nested(OrderLineSchema))
    recurring = fields.List(fields.Dict())
    totals = fields.Dict(keys=fields.String(), values=fields.String())
    events = fields.List(fields.Nested(OrderEventRecordSchema))


class OrderSummarySchema(Schema):
    id = fields.String()
    number = fields.String()
    status = fields.String()
    quote = fields.String()
    account_id = fields.String()
    currency = fields.String()
    total = fields.String()
    requested_date = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OrderListSchema(Schema):
    items = fields.List(fields.Nested(OrderSummarySchema))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class OrderFilterSchema(Strict):
    status = fields.String(validate=validate.OneOf(order_status.STATUSES))
    quote = fields.String(validate=validate.Length(max=32), metadata={"description": "quote number"})
    account_id = fields.String(validate=validate.Length(max=64))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class OrderEventSchema(Strict):
    """A status callback from order management."""

    status = fields.String(required=True, validate=validate.OneOf(order_status.STATUSES))
    event_id = fields.String(validate=validate.Length(min=1, max=128),
                             metadata={"description": "the same event_id again is answered without a change"})
    note = _text(2000, allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)


# --- dead letters ---------------------------------------------------------------------------------------------


class OutboxMessageSchema(Schema):
    id = fields.Integer()
    order_number = fields.String()
    quote = fields.String()
    idempotency_key = fields.String()
    status = fields.String(validate=validate.OneOf(outbox.STATUSES))
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    last_http_status = fields.Integer(allow_none=True)
    order_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    payload = fields.Dict()


class OutboxListSchema(Schema):
    items = fields.List(fields.Nested(OutboxMessageSchema))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class PageSchema(Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


def _today() -> date:
    return date.today()


# --- resources ------------------------------------------------------------------------------------------------


@blp.route("/quotes/<quote_id>/order")
class OrderQuote(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(OrderRequestSchema)
    @blp.response(200, QuoteSchema)
    def post(self, data, quote_id: str):
        """Order an accepted quote, all of it or some lines (If-Match); the quote becomes `ordering`."""
        user = current_user()
        with engine().begin() as conn:
            view = quote_service.order(conn, user, quote_id, request.headers.get("If-Match"), data, _today())
        return view.as_dict(user), 200, {"ETag": view.quote.etag}


@blp.route("/quotes/<quote_id>/orders")
class QuoteOrders(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, QuoteOrdersSchema)
    def get(self, quote_id: str):
        """How far a quote is ordered: per line quoted / ordered / left, each order and why one failed."""
        user = current_user()
        with engine().connect() as conn:
            return orders.quote_orders(conn, user, quote_id)


@blp.route("/orders")
class Orders(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(OrderFilterSchema, location="query")
    @blp.response(200, OrderListSchema)
    def get(self, filters):
        """Orders of the accounts the caller may see, newest first."""
        user = current_user()
        with engine().connect() as conn:
            return orders.list_orders(conn, user, filters)

    @blp.doc(security=[BEARER], parameters=[IDEMPOTENCY_KEY])
    @blp.arguments(OrderContractSchema)
    @blp.response(201, OrderSchema, description="the order was created")
    @blp.alt_response(200, schema=OrderSchema, success=True,
                      description="an order with this Idempotency-Key and the same body exists: it is returned")
    def post(self, _data):
        """Create an order in the builtin order management (the contract an external one implements too)."""
        require_role("order_manager", "admin")
        key = request.headers.get("Idempotency-Key", "")
        if not 1 <= len(key) <= 128:
            raise InvalidInput("send an Idempotency-Key header of 1 to 128 characters",
                               errors={"Idempotency-Key": ["required, 1 to 128 characters"]})
        payload = request.get_json()  # the body as sent: its hash decides whether a replay is the same order
        try:
            with engine().begin() as conn:
                order, created = records.keep_order(conn, payload, key, "builtin")
                body = orders.order_view(conn, order)
        except sa.exc.IntegrityError:  # the same key raced in: answer with the order the winner kept
            with engine().begin() as conn:
                order, created = records.keep_order(conn, payload, key, "builtin")
                body = orders.order_view(conn, order)
        if created:
            return body, 201
        return body, 200, {"Idempotent-Replay": "true"}


@blp.route("/orders/<order_id>")
class OrderById(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, OrderSchema)
    def get(self, order_id: str):
        """One order with its lines (locked prices), recurring terms and status history."""
        user = current_user()
        with engine().connect() as conn:
            return orders.get_order(conn, user, order_id)


@blp.route("/orders/<order_id>/events")
class OrderEvents(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(OrderEventSchema)
    @blp.response(200, OrderSchema)
    def post(self, data, order_id: str):
        """Status callback from order management: received → in_fulfilment → shipped → closed | cancelled."""
        user = current_user()
        with engine().begin() as conn:
            body, changed = orders.record_event(conn, user, order_id, data["status"], event_id=data.get("event_id"),
                                                note=data.get("note"), occurred_at=data.get("occurred_at"))
        return body, 200, ({} if changed else {"Idempotent-Replay": "true"})


@blp.route("/admin/outbox/dead-letters")
class DeadLetters(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(PageSchema, location="query")
    @blp.response(200, OutboxListSchema)
    def get(self, page):
        """Orders the worker gave up sending (admin)."""
        user = current_user()
        with engine().connect() as conn:
            return orders.dead_letters(conn, user, page["limit"], page["offset"])


@blp.route("/admin/outbox/dead-letters/<int:message_id>/retry")
class RetryDeadLetter(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, OutboxMessageSchema)
    def post(self, message_id: int):
        """Send a dead letter again, with fresh attempts and the same idempotency key (admin)."""
        user = current_user()
        with engine().begin() as conn:
            return orders.retry_dead_letter(conn, user, message_id)

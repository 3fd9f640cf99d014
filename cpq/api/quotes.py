"""Quotes over REST: create, list, read, revise, submit, approve/reject, send, accept/decline, revisions.

Every mutation needs the quote's ETag in If-Match (428 without, 412 when stale); create and accept
honour an Idempotency-Key (same key and body → the same answer; same key, other body → 422).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

import sqlalchemy as sa
from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from cpq.api.auth import BEARER, current_user
from cpq.errors import InvalidInput
from cpq.pricing.currency import MINOR_UNITS
from cpq.quotes.lifecycle import STATES
from cpq.rulesets import active_ruleset
from cpq.services import quotes as service
from cpq.store import engine
from cpq.store import quotes as repo

blp = Blueprint("quotes", __name__, url_prefix="/api/v1/quotes", description="Quotes and their lifecycle")

MAX_QUANTITY = 1_000_000
PERCENT = validate.Regexp(r"^\d{1,2}(\.\d{1,2})?%$|^100%$", error='a percentage written as text, e.g. "5%"')


class Strict(Schema):
    class Meta:
        unknown = RAISE


class QuoteLineOptionSchema(Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))


class QuoteLineComponentSchema(Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    options = fields.List(fields.Nested(QuoteLineOptionSchema), load_default=list, validate=validate.Length(max=200))


class QuoteLineSchema(Strict):
    id = fields.String(validate=validate.Length(min=1, max=100))
    product = fields.String(required=True, validate=validate.Length(min=1, max=100))
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    options = fields.List(fields.Nested(QuoteLineOptionSchema), load_default=list, validate=validate.Length(max=200))
    components = fields.List(fields.Nested(QuoteLineComponentSchema), load_default=list, validate=validate.Length(max=50))
    group = fields.String(validate=validate.Length(max=200))
    discount = fields.String(validate=PERCENT, metadata={"description": 'manual discount, e.g. "5%"'})
    term_months = fields.Integer(strict=True, validate=validate.Range(min=1, max=120))


class TermsSchema(Strict):
    valid_until = fields.Date(allow_none=True)
    payment_terms = fields.String(allow_none=True, validate=validate.Length(max=2000))
    delivery_terms = fields.String(allow_none=True, validate=validate.Length(max=2000))
    term_months = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=120))
    discount = fields.String(allow_none=True, validate=PERCENT)
    pricebook = fields.String(allow_none=True, validate=validate.Length(max=64))


class CreateQuoteSchema(TermsSchema):
    account_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    currency = fields.String(validate=validate.OneOf(sorted(MINOR_UNITS)))
    channel = fields.String(validate=validate.OneOf(("direct", "web", "partner")))
    lines = fields.List(fields.Nested(QuoteLineSchema), required=True,
                        validate=validate.Length(min=1, max=service.MAX_LINES))

    @validates_schema
    def unique_line_ids(self, data, **kw):
        ids = [line["id"] for line in data.get("lines", []) if "id" in line]
        if len(ids) != len(set(ids)):
            raise ValidationError("line ids must be unique", "lines")


class ReviseQuoteSchema(TermsSchema):
    lines = fields.List(fields.Nested(QuoteLineSchema), validate=validate.Length(min=1, max=service.MAX_LINES))


class ApprovalDecisionSchema(Strict):
    comment = fields.String(validate=validate.Length(max=2000))


class AcceptSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200),
                         metadata={"description": "the buyer's name, typed"})
    document_hash = fields.String(required=True, validate=validate.Length(equal=64),
                                  metadata={"description": "the hash of the revision the buyer was shown"})


class QuoteApprovalRecordSchema(Schema):
    id = fields.Integer()
    policy_id = fields.String()
    role = fields.String()
    status = fields.String()
    reason = fields.String()
    decided_by = fields.Integer(allow_none=True)
    comment = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class AcceptedSchema(Schema):
    name = fields.String()
    by = fields.Integer()
    at = fields.DateTime()
    document_hash = fields.String()


class QuoteSchema(Schema):
    id = fields.String(required=True)
    number = fields.String(required=True)
    state = fields.String(validate=validate.OneOf(STATES))
    account_id = fields.String()
    partner_id = fields.String(allow_none=True)
    owner_id = fields.Integer()
    currency = fields.String()
    channel = fields.String()
    pricebook = fields.String(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    payment_terms = fields.String(allow_none=True)
    delivery_terms = fields.String(allow_none=True)
    term_months = fields.Integer(allow_none=True)
    discount = fields.String(allow_none=True)
    revision = fields.Integer()
    order_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    lines = fields.List(fields.Dict())
    priced = fields.Dict(metadata={"description": "lines with waterfalls, totals, approvals (amounts as strings)"})
    ruleset_version = fields.String()
    document_hash = fields.String(allow_none=True)
    accepted = fields.Nested(AcceptedSchema, allow_none=True)
    approvals = fields.List(fields.Nested(QuoteApprovalRecordSchema))
    allowed_actions = fields.List(fields.String())


class QuoteSummarySchema(Schema):
    id = fields.String()
    number = fields.String()
    state = fields.String()
    account_id = fields.String()
    currency = fields.String()
    revision = fields.Integer()
    valid_until = fields.Date(allow_none=True)
    updated_at = fields.DateTime()


class QuoteListSchema(Schema):
    items = fields.List(fields.Nested(QuoteSummarySchema))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class QuoteFilterSchema(Schema):
    class Meta:
        unknown = RAISE

    state = fields.String(validate=validate.OneOf(STATES))
    account_id = fields.String(validate=validate.Length(max=64))
    owner_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    number = fields.String(validate=validate.Length(max=32), metadata={"description": "number prefix"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=service.MAX_PAGE))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class RevisionSummarySchema(Schema):
    revision = fields.Integer()
    state = fields.String()
    ruleset_version = fields.String()
    grand_total = fields.String()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    document_hash = fields.String(allow_none=True)


class RevisionListSchema(Schema):
    items = fields.List(fields.Nested(RevisionSummarySchema))


class RevisionSchema(Schema):
    revision = fields.Integer()
    state = fields.String()
    lines = fields.List(fields.Dict())
    priced = fields.Dict()
    ruleset_version = fields.String()
    document_hash = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)


class DiffQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    against = fields.Integer(validate=validate.Range(min=1))


class DiffSchema(Schema):
    from_ = fields.Integer(data_key="from")
    to = fields.Integer()
    added = fields.List(fields.Dict())
    removed = fields.List(fields.Dict())
    changed = fields.List(fields.Dict())
    totals = fields.Dict()
    ruleset = fields.Dict(allow_none=True)


def _today() -> date:
    return date.today()


def _answer(view: service.QuoteView, status: int = 200):
    user = current_user()
    return view.as_dict(user), status, {"ETag": view.quote.etag}


def _idempotent(endpoint: str, body: dict, run):
    """Run `run(conn)` once per Idempotency-Key: a retry with the same key and body gets the first answer."""
    user = current_user()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise InvalidInput("Idempotency-Key must be 1 to 255 characters")
    body_hash = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()

    def replay(stored):
        if stored["endpoint"] != endpoint or stored["body_hash"] != body_hash:
            raise InvalidInput("this Idempotency-Key was used for a different request",
                               errors={"Idempotency-Key": ["reused with a different body"]})
        response = jsonify(json.loads(stored["response"]))
        response.status_code = stored["status"]
        response.headers["ETag"] = stored["etag"]
        response.headers["Idempotent-Replay"] = "true"
        return response

    if key is not None:
        with engine().connect() as conn:
            stored = repo.find_idempotent(conn, user.id, key)
        if stored is not None:
            return replay(stored)
    try:
        with engine().begin() as conn:
            view, status = run(conn)
            result = view.as_dict(user)
            if key is not None:
                repo.save_idempotent(conn, user.id, key, endpoint, body_hash, status,
                                     QuoteSchema().dump(result), view.quote.etag)
    except sa.exc.IntegrityError:
        if key is None:
            raise
        with engine().connect() as conn:  # a concurrent request with the same key won the race
            stored = repo.find_idempotent(conn, user.id, key)
        if stored is None:
            raise
        return replay(stored)
    return result, status, {"ETag": view.quote.etag}


def _mutate(action):
    """Run one quote mutation in a transaction and answer with the quote and its new ETag."""
    with engine().begin() as conn:
        view = action(conn)
    return _answer(view)


@blp.route("")
class Quotes(MethodView):
    @blp.doc(security=[BEARER], parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"}}])
    @blp.arguments(CreateQuoteSchema)
    @blp.response(201, QuoteSchema)
    def post(self, data):
        """Create a draft quote for an account: lines are validated and priced on the server."""
        user = current_user()
        ruleset = active_ruleset()
        return _idempotent("create", data, lambda conn: (service.create(conn, ruleset, user, data, _today()), 201))

    @blp.doc(security=[BEARER])
    @blp.arguments(QuoteFilterSchema, location="query")
    @blp.response(200, QuoteListSchema)
    def get(self, filters):
        """Quotes the caller may see, newest first, filtered and paginated."""
        user = current_user()
        with engine().connect() as conn:
            return service.listing(conn, user, filters, _today())


@blp.route("/<quote_id>")
class QuoteById(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, QuoteSchema)
    def get(self, quote_id: str):
        """A quote with its current revision, approvals and the actions now allowed."""
        user = current_user()
        with engine().connect() as conn:
            return _answer(service.view(conn, user, quote_id, _today()))

    @blp.doc(security=[BEARER])
    @blp.arguments(ReviseQuoteSchema)
    @blp.response(200, QuoteSchema)
    def patch(self, data, quote_id: str):
        """Change lines or terms (If-Match): re-validated, re-priced; a sent revision is kept and N+1 made."""
        user = current_user()
        ruleset = active_ruleset()
        return _mutate(lambda conn: service.revise(conn, ruleset, user, quote_id, request.headers.get("If-Match"),
                                                   data, _today()))


@blp.route("/<quote_id>/submit")
class Submit(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, QuoteSchema)
    def post(self, quote_id: str):
        """Submit for approval: the approvals the quote needs, each with the policy that fired."""
        user = current_user()
        ruleset = active_ruleset()
        return _mutate(lambda conn: service.submit(conn, user, quote_id, request.headers.get("If-Match"), ruleset,
                                                   _today()))


@blp.route("/<quote_id>/approve")
class Approve(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(ApprovalDecisionSchema)
    @blp.response(200, QuoteSchema)
    def post(self, data, quote_id: str):
        """Approve the pending approval level the caller's role covers."""
        user = current_user()
        return _mutate(lambda conn: service.decide(conn, user, quote_id, request.headers.get("If-Match"), True,
                                                   data.get("comment"), _today()))


@blp.route("/<quote_id>/reject")
class Reject(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(ApprovalDecisionSchema)
    @blp.response(200, QuoteSchema)
    def post(self, data, quote_id: str):
        """Reject with a comment: the quote goes back to sales."""
        user = current_user()
        return _mutate(lambda conn: service.decide(conn, user, quote_id, request.headers.get("If-Match"), False,
                                                   data.get("comment"), _today()))


@blp.route("/<quote_id>/send")
class Send(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, QuoteSchema)
    def post(self, quote_id: str):
        """Send to the buyer: the revision is frozen and gets its document hash."""
        user = current_user()
        return _mutate(lambda conn: service.send(conn, user, quote_id, request.headers.get("If-Match"), _today()))


@blp.route("/<quote_id>/accept")
class Accept(MethodView):
    @blp.doc(security=[BEARER], parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"}}])
    @blp.arguments(AcceptSchema)
    @blp.response(200, QuoteSchema)
    def post(self, data, quote_id: str):
        """The buyer accepts the exact revision they saw (typed name + document hash)."""
        user = current_user()
        if_match = request.headers.get("If-Match")
        return _idempotent(f"accept:{quote_id}", data, lambda conn: (
            service.accept(conn, user, quote_id, if_match, data["name"], data["document_hash"], _today()), 200))


@blp.route("/<quote_id>/decline")
class Decline(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, QuoteSchema)
    def post(self, quote_id: str):
        """The buyer declines the quote."""
        user = current_user()
        return _mutate(lambda conn: service.decline(conn, user, quote_id, request.headers.get("If-Match"), _today()))


@blp.route("/<quote_id>/revisions")
class Revisions(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, RevisionListSchema)
    def get(self, quote_id: str):
        """Every revision of the quote, oldest first."""
        user = current_user()
        with engine().connect() as conn:
            return {"items": service.revisions(conn, user, quote_id)}


@blp.route("/<quote_id>/revisions/<int:n>")
class RevisionById(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, RevisionSchema)
    def get(self, quote_id: str, n: int):
        """One revision exactly as it was priced (with its ruleset version)."""
        user = current_user()
        with engine().connect() as conn:
            return service.revision_view(conn, user, quote_id, n)


@blp.route("/<quote_id>/revisions/<int:n>/diff")
class RevisionDiff(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(DiffQuerySchema, location="query")
    @blp.response(200, DiffSchema)
    def get(self, query, quote_id: str, n: int):
        """What changed in revision n since revision n-1 (or ?against=m)."""
        user = current_user()
        with engine().connect() as conn:
            return service.diff(conn, user, quote_id, n, query.get("against"))

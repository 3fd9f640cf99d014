"""Customer accounts and the caller's own identity: /api/v1/accounts, /api/v1/me."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from cpq.accounts import ROLES
from cpq.api.auth import BEARER, current_user, require_role
from cpq.ruleset.schemas import ID_PATTERN
from cpq.store import engine
from cpq.store.people import create_account, visible_account, visible_accounts

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Customer accounts and the caller")


class AccountSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_id = fields.String(allow_none=True, load_default=None)
    partner_id = fields.String(allow_none=True, load_default=None)
    owner_id = fields.Integer(allow_none=True, load_default=None)
    segment = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    country = fields.String(allow_none=True, load_default=None, validate=validate.Length(equal=2))
    currency = fields.String(allow_none=True, load_default=None, validate=validate.Length(equal=3))
    tax_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    address = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))


class AccountListSchema(Schema):
    items = fields.List(fields.Nested(AccountSchema))


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    account_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, MeSchema)
    def get(self):
        """The user the API key belongs to."""
        return vars(current_user())


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, AccountListSchema)
    def get(self):
        """Accounts the caller may see (a buyer its own, a partner its customers, sales their accounts)."""
        user = current_user()
        with engine().connect() as conn:
            return {"items": [vars(a) for a in visible_accounts(conn, user)]}

    @blp.doc(security=[BEARER])
    @blp.arguments(AccountSchema)
    @blp.response(201, AccountSchema)
    def post(self, data):
        """Create a customer account (sales managers and admins)."""
        require_role("sales_manager", "admin")
        with engine().begin() as conn:
            account = create_account(conn, data.pop("id"), data.pop("name"), **data)
        return vars(account)


@blp.route("/accounts/<account_id>")
class AccountById(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, AccountSchema)
    def get(self, account_id: str):
        """One account, if the caller may see it (otherwise 404: its existence is not revealed)."""
        user = current_user()
        with engine().connect() as conn:
            account = visible_account(conn, user, account_id)
        return vars(account)

"""Quotes, revisions, approvals, quote numbers and idempotency keys.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "quote_number_counters",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.id"), nullable=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("current_revision", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("pricebook_id", sa.String(64), nullable=True),
        sa.Column("valid_until", sa.Date, nullable=True),
        sa.Column("payment_terms", sa.Text, nullable=True),
        sa.Column("delivery_terms", sa.Text, nullable=True),
        sa.Column("term_months", sa.Integer, nullable=True),
        sa.Column("discount", sa.String(16), nullable=True),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_quotes_account_id", "quotes", ["account_id"])
    op.create_index("ix_quotes_partner_id", "quotes", ["partner_id"])
    op.create_table(
        "quote_revisions",
        sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("priced", sa.Text, nullable=False),
        sa.Column("ruleset_version", sa.String(64), nullable=False),
        sa.Column("grand_total", sa.String(40), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_hash", sa.String(64), nullable=True),
        sa.Column("accepted_name", sa.String(200), nullable=True),
        sa.Column("accepted_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "quote_approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("policy_id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("tested", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_quote_approvals_quote_id", "quote_approvals", ["quote_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("etag", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade():
    op.drop_index("ix_idempotency_keys_created_at", "idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_quote_approvals_quote_id", "quote_approvals")
    op.drop_table("quote_approvals")
    op.drop_table("quote_revisions")
    op.drop_index("ix_quotes_partner_id", "quotes")
    op.drop_index("ix_quotes_account_id", "quotes")
    op.drop_table("quotes")
    op.drop_table("quote_number_counters")

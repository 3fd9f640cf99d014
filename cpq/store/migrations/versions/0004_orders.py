"""Orders: the transactional outbox, the ordered-quantity ledger, orders, order lines and status events.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "order_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_http_status", sa.Integer, nullable=True),
        sa.Column("order_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_order_outbox_quote_id", "order_outbox", ["quote_id"])
    op.create_index("ix_order_outbox_due", "order_outbox", ["status", "next_attempt_at"])
    op.create_table(
        "order_ledger",
        sa.Column("order_number", sa.String(64), sa.ForeignKey("order_outbox.order_number"), primary_key=True),
        sa.Column("line_id", sa.String(100), primary_key=True),
        sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_order_ledger_quote_id", "order_ledger", ["quote_id"])
    op.create_table(
        "orders",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.Column("connector", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False),
        sa.Column("quote_number", sa.String(32), nullable=False),
        sa.Column("quote_revision", sa.Integer, nullable=False),
        sa.Column("document_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("requested_date", sa.Date, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_orders_quote_id", "orders", ["quote_id"])
    op.create_index("ix_orders_account_id", "orders", ["account_id"])
    op.create_table(
        "order_lines",
        sa.Column("order_number", sa.String(64), sa.ForeignKey("orders.number"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("line_id", sa.String(100), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("requested_date", sa.Date, nullable=True),
        sa.Column("total", sa.String(40), nullable=False),
        sa.Column("items", sa.Text, nullable=False),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_number", sa.String(64), sa.ForeignKey("orders.number"), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("previous_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.UniqueConstraint("order_number", "event_id", name="uq_order_events_event"),
    )
    op.create_index("ix_order_events_order_number", "order_events", ["order_number"])


def downgrade():
    op.drop_index("ix_order_events_order_number", "order_events")
    op.drop_table("order_events")
    op.drop_table("order_lines")
    op.drop_index("ix_orders_account_id", "orders")
    op.drop_index("ix_orders_quote_id", "orders")
    op.drop_table("orders")
    op.drop_index("ix_order_ledger_quote_id", "order_ledger")
    op.drop_table("order_ledger")
    op.drop_index("ix_order_outbox_due", "order_outbox")
    op.drop_index("ix_order_outbox_quote_id", "order_outbox")
    op.drop_table("order_outbox")

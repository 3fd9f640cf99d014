"""Database tables (SQLAlchemy Core); the schema changes only through migrations."""

import sqlalchemy as sa

metadata = sa.MetaData()

ruleset_versions = sa.Table(
    "ruleset_versions",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("first_loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)

partners = sa.Table(
    "partners",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", use_alter=True, name="fk_users_account"), nullable=True),
    sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.id"), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.id"), nullable=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("segment", sa.String(64), nullable=True),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("tax_id", sa.String(64), nullable=True),
    sa.Column("address", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the public part of the key
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 of the secret part
    sa.Column("label", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

quote_number_counters = sa.Table(
    "quote_number_counters",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last", sa.Integer, nullable=False),
)

quotes = sa.Table(
    "quotes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(32), nullable=False, unique=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.id"), nullable=True, index=True),
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
    sa.Column("discount", sa.String(16), nullable=True),  # quote-wide manual discount, "5%"
    sa.Column("row_version", sa.Integer, nullable=False),  # bumps on every change: the ETag
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

quote_revisions = sa.Table(
    "quote_revisions",
    metadata,
    sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("request", sa.Text, nullable=False),  # the lines as the user configured them (JSON)
    sa.Column("priced", sa.Text, nullable=False),  # the full priced result: lines, waterfall, totals (JSON)
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

quote_approvals = sa.Table(
    "quote_approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("policy_id", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | approved | rejected | carried_over
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("tested", sa.Text, nullable=False),  # the values the policy tested (JSON), for re-approval
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("endpoint", sa.String(255), nullable=False),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("etag", sa.String(128), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

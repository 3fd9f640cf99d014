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

# --- orders (issue #7): the transactional outbox, the per-line ordered-quantity ledger, and the
# orders themselves (kept by the builtin order management, mirrored for an external one).

order_outbox = sa.Table(
    "order_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False, index=True),
    sa.Column("batch", sa.Integer, nullable=False),  # the order request (accept or POST …/order) it belongs to
    sa.Column("order_number", sa.String(64), nullable=False, unique=True),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("payload", sa.Text, nullable=False),  # the order as the contract carries it (JSON)
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),  # a claim is a lease: a dead worker's expires
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_http_status", sa.Integer, nullable=True),
    sa.Column("order_id", sa.String(128), nullable=True),  # the id order management gave the order
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_order_outbox_due", "status", "next_attempt_at"),
)

order_ledger = sa.Table(
    "order_ledger",
    metadata,
    sa.Column("order_number", sa.String(64), sa.ForeignKey("order_outbox.order_number"), primary_key=True),
    sa.Column("line_id", sa.String(100), primary_key=True),
    sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False, index=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("number", sa.String(64), primary_key=True),  # derived from the quote: O-2026-000123-1
    sa.Column("external_id", sa.String(128), nullable=True),  # the id in the order management that keeps it
    sa.Column("connector", sa.String(16), nullable=False),  # builtin | http
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("quote_id", sa.Integer, sa.ForeignKey("quotes.id"), nullable=False, index=True),
    sa.Column("quote_number", sa.String(32), nullable=False),
    sa.Column("quote_revision", sa.Integer, nullable=False),
    sa.Column("document_hash", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("requested_date", sa.Date, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # received | in_fulfilment | shipped | closed | cancelled
    sa.Column("total", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_number", sa.String(64), sa.ForeignKey("orders.number"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("line_id", sa.String(100), nullable=False),
    sa.Column("product", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("requested_date", sa.Date, nullable=True),
    sa.Column("total", sa.String(40), nullable=False),
    sa.Column("items", sa.Text, nullable=False),  # each SKU with its locked price (JSON)
)

order_events = sa.Table(
    "order_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_number", sa.String(64), sa.ForeignKey("orders.number"), nullable=False, index=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("previous_status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.UniqueConstraint("order_number", "event_id", name="uq_order_events_event"),
)

# --- rule administration (issue #9): every version's exact files, content-addressed, and the
# publications / rollbacks that make a version active from a given time (also the audit trail).

ruleset_blobs = sa.Table(
    "ruleset_blobs",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
)

ruleset_version_files = sa.Table(
    "ruleset_version_files",
    metadata,
    sa.Column("version", sa.String(64), sa.ForeignKey("ruleset_versions.version"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("path", sa.String(500), nullable=False),  # rules/servers.yaml: as shown in errors and sources
    sa.Column("key", sa.String(500), nullable=False),  # servers.yaml: inside its root, part of the version hash
    sa.Column("sha256", sa.String(64), sa.ForeignKey("ruleset_blobs.sha256"), nullable=False),
)

ruleset_activations = sa.Table(
    "ruleset_activations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.String(64), sa.ForeignKey("ruleset_versions.version"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # publish | rollback
    sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("previous_version", sa.String(64), nullable=True),  # active when this was recorded
    sa.Column("actor", sa.String(254), nullable=False),  # the user's email, or cli:<login>
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("summary", sa.Text, nullable=False),  # the diff against the previous version (JSON)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_ruleset_activations_effective", "effective_at", "id"),
)

# Every serving process says here which version it answers from and which it holds compiled, so a
# publication "now" is made active once every live process is ready for it (docs/rule-administration.md).
ruleset_processes = sa.Table(
    "ruleset_processes",
    metadata,
    sa.Column("process", sa.String(120), primary_key=True),  # host:pid:token
    sa.Column("serving", sa.String(64), nullable=True),
    sa.Column("compiled", sa.Text, nullable=False),  # versions held compiled, space-separated
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

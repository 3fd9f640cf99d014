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

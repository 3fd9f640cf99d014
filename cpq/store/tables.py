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

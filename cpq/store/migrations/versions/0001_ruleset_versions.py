"""Ruleset versions seen by this installation.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ruleset_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("first_loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("ruleset_versions")

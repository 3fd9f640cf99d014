"""Serving processes and the ruleset versions each holds compiled (publication waits for them).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ruleset_processes",
        sa.Column("process", sa.String(120), primary_key=True),
        sa.Column("serving", sa.String(64), nullable=True),
        sa.Column("compiled", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("ruleset_processes")

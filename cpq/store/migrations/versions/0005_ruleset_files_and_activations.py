"""Rule administration: the exact files of every ruleset version, and publications / rollbacks.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ruleset_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ruleset_version_files",
        sa.Column("version", sa.String(64), sa.ForeignKey("ruleset_versions.version"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("ruleset_blobs.sha256"), nullable=False),
    )
    op.create_table(
        "ruleset_activations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), sa.ForeignKey("ruleset_versions.version"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ruleset_activations_effective", "ruleset_activations", ["effective_at", "id"])


def downgrade():
    op.drop_index("ix_ruleset_activations_effective", table_name="ruleset_activations")
    op.drop_table("ruleset_activations")
    op.drop_table("ruleset_version_files")
    op.drop_table("ruleset_blobs")

"""Radiographs named one by one: an excluded radiograph can carry its own name (``members.label``, with
its own version for optimistic concurrency), and the audit says which radiograph a change was about.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("label", sa.String(64), nullable=True))
        batch.add_column(sa.Column("label_version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("image_id", sa.String(64), nullable=True))
    op.create_index("ix_audit_image", "audit", ["run_id", "image_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_image", table_name="audit")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("image_id")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("label_version")
        batch.drop_column("label")

"""Label sets through an outbox: ``announced_at`` (null until labels.published is acknowledged).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 12:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labelsets") as batch:
        batch.add_column(sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("object_bytes", sa.Integer(), nullable=True))
    # Label sets of earlier versions were announced before their commit: they are announced.
    op.execute("UPDATE labelsets SET announced_at = published_at")


def downgrade() -> None:
    with op.batch_alter_table("labelsets") as batch:
        batch.drop_column("object_bytes")
        batch.drop_column("announced_at")

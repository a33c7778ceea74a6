"""Curation inside clusters: splits (a cluster's parts), excluded and moved radiographs, per-radiograph
known labels (suggestions follow the radiographs), what the viewer needs (derivative key, tags) and the
run's embeddings reference.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("embeddings_bucket", sa.String(63), nullable=True))
        batch.add_column(sa.Column("embeddings_key", sa.String(1024), nullable=True))
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("parent", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("split", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("row", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("phase1_cluster", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("excluded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("known_labels", sa.String(512), nullable=True))
        batch.add_column(sa.Column("derivative_key", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        for column in ("facts", "derivative_key", "known_labels", "excluded", "phase1_cluster", "row"):
            batch.drop_column(column)
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("split")
        batch.drop_column("parent")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("embeddings_key")
        batch.drop_column("embeddings_bucket")

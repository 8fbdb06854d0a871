"""The inference log's first table: one row per served prediction.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("deliverable", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=False),
        sqlite_autoincrement=True,  # ids are never reused: feedback names predictions by id
    )
    op.create_index("predictions_by_deliverable", "predictions", ["deliverable", "id"])


def downgrade() -> None:
    op.drop_index("predictions_by_deliverable", table_name="predictions")
    op.drop_table("predictions")

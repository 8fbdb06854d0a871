"""The served request's id on each row (its X-Request-ID), indexed: a row joins its request's JSON log
line and trace (docs/observability.md). Rows written before it have none.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("request_id", sa.Text()))
    op.create_index("predictions_by_request", "predictions", ["request_id"])


def downgrade() -> None:
    op.drop_index("predictions_by_request", table_name="predictions")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("request_id")

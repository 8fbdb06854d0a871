"""Who answered (role: champion, canary, shadow) and delayed feedback (label, labeled_at, feedback).

Logs written before Alembic may hold some of these columns already (the hand migration added them
one release at a time): only the missing ones are added.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ADDED = {
    "role": lambda: sa.Column("role", sa.Text(), nullable=False, server_default="champion"),
    "label": lambda: sa.Column("label", sa.Float()),
    "labeled_at": lambda: sa.Column("labeled_at", sa.Float()),
    "feedback": lambda: sa.Column("feedback", sa.Text()),
}


def upgrade() -> None:
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("predictions")}
    for name, column in ADDED.items():
        if name not in present:
            op.add_column("predictions", column())
    indexes = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("predictions")}
    if "predictions_by_deliverable" not in indexes:  # a hand-made log may lack it
        op.create_index("predictions_by_deliverable", "predictions", ["deliverable", "id"])


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        for name in reversed(ADDED):
            batch.drop_column(name)

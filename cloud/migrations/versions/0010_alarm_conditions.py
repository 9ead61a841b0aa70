"""alarm conditions: each occurrence of a derived console alarm is its own incident

Revision ID: 0010
Revises: 0009
Written by hand to match cloud.console_models; a test compares it with the model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alarm_conditions",
        sa.Column("condition_key", sa.String(length=256), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("condition_key", name=op.f("pk_alarm_conditions")),
    )


def downgrade() -> None:
    op.drop_table("alarm_conditions")

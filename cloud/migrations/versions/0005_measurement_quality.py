"""measurement quality flag (good / out_of_range) from the gateway's profile range check

Revision ID: 0005
Revises: 0004
Written by hand to match cloud.models.MeasurementRow; a test compares it with the model. Rows
stored before keep a null quality: nothing judged them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A nullable column needs no table rewrite, on SQLite (ADD COLUMN) as on PostgreSQL.
    op.add_column("measurements", sa.Column("quality", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("measurements", "quality")

"""gateway configuration documents (cold-chain rules) the gateways download by version

Revision ID: 0006
Revises: 0005
Written by hand to match cloud.gateway_config_models; a test compares it with the model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "gateway_configs",
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_gateway_configs_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", name=op.f("pk_gateway_configs")),
    )


def downgrade() -> None:
    op.drop_table("gateway_configs")

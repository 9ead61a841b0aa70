"""outbound matching: dock-door outs and order dispatches that book the same units once

Revision ID: 0009
Revises: 0008
Written by hand to match cloud.stock_models; a test compares it with the model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

TIME = sa.DateTime(timezone=True)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbound_open",
        sa.Column("movement_id", ROW_ID, nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("sku_id", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("open_quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("open_quantity >= 0", name="open_quantity_not_negative"),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["stock_movements.id"],
            name=op.f("fk_outbound_open_movement_id_stock_movements"),
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_outbound_open_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_outbound_open_order_id_orders")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_outbound_open_sku_id_skus")),
        sa.PrimaryKeyConstraint("movement_id", name=op.f("pk_outbound_open")),
    )
    op.create_index(
        op.f("ix_outbound_open_node_id_sku_id_side_at"),
        "outbound_open",
        ["node_id", "sku_id", "side", "at"],
    )
    op.create_table(
        "outbound_matches",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("sku_id", sa.String(length=64), nullable=False),
        sa.Column("door_movement_id", ROW_ID, nullable=False),
        sa.Column("order_movement_id", ROW_ID, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("matched_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["door_movement_id"],
            ["stock_movements.id"],
            name=op.f("fk_outbound_matches_door_movement_id_stock_movements"),
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_outbound_matches_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_outbound_matches_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["order_movement_id"],
            ["stock_movements.id"],
            name=op.f("fk_outbound_matches_order_movement_id_stock_movements"),
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_outbound_matches_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint(
            "door_movement_id", "order_movement_id", name=op.f("pk_outbound_matches")
        ),
    )
    op.create_index(op.f("ix_outbound_matches_order_id"), "outbound_matches", ["order_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_matches_order_id"), table_name="outbound_matches")
    op.drop_table("outbound_matches")
    op.drop_index(op.f("ix_outbound_open_node_id_sku_id_side_at"), table_name="outbound_open")
    op.drop_table("outbound_open")

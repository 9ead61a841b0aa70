"""fleet and dispatch: couriers, courier states, delivery tasks, plans, flags, tracking links,
carrier shipments

Revision ID: 0007
Revises: 0006
Written by hand to match cloud.fleet_models; a test compares it with the model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "couriers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("shifts", JSON, nullable=False),
        sa.Column("home_node_id", sa.String(length=64), nullable=False),
        sa.Column("gps_device_id", sa.String(length=128), nullable=True),
        sa.Column("compartments", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["home_node_id"], ["nodes.id"], name=op.f("fk_couriers_home_node_id_nodes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_couriers")),
        sa.UniqueConstraint("gps_device_id", name=op.f("uq_couriers_gps_device_id")),
    )
    op.create_table(
        "courier_states",
        sa.Column("courier_id", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["courier_id"],
            ["couriers.id"],
            name=op.f("fk_courier_states_courier_id_couriers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("courier_id", name=op.f("pk_courier_states")),
    )
    op.create_table(
        "delivery_tasks",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("pickup_node_id", sa.String(length=64), nullable=False),
        sa.Column("drop_lat", sa.Float(), nullable=False),
        sa.Column("drop_lon", sa.Float(), nullable=False),
        sa.Column("ready_at", TIME, nullable=False),
        sa.Column("window_end", TIME, nullable=False),
        sa.Column("deadline", TIME, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("service", JSON, nullable=False),
        sa.Column("temperature_class", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("courier_id", sa.String(length=64), nullable=True),
        sa.Column("planned_pickup_at", TIME, nullable=True),
        sa.Column("planned_drop_at", TIME, nullable=True),
        sa.Column("accepted_at", TIME, nullable=True),
        sa.Column("arrived_at", TIME, nullable=True),
        sa.Column("picked_up_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("proof", JSON, nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("declined_by", JSON, nullable=False),
        sa.Column("temperature_record", JSON, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_delivery_tasks_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pickup_node_id"], ["nodes.id"], name=op.f("fk_delivery_tasks_pickup_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["courier_id"], ["couriers.id"], name=op.f("fk_delivery_tasks_courier_id_couriers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_tasks")),
        sa.UniqueConstraint(
            "order_id", "pickup_node_id", name=op.f("uq_delivery_tasks_order_id_pickup_node_id")
        ),
    )
    op.create_index(op.f("ix_delivery_tasks_status"), "delivery_tasks", ["status"])
    op.create_index(
        op.f("ix_delivery_tasks_courier_id_status"), "delivery_tasks", ["courier_id", "status"]
    )
    op.create_table(
        "dispatch_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("solve_ms", sa.Float(), nullable=False),
        sa.Column("cost_s", sa.Float(), nullable=False),
        sa.Column("routes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_plans")),
    )
    op.create_index(op.f("ix_dispatch_plans_created_at"), "dispatch_plans", ["created_at"])
    op.create_table(
        "dispatch_flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("courier_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=160), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("raised_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["courier_id"], ["couriers.id"], name=op.f("fk_dispatch_flags_courier_id_couriers")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["delivery_tasks.id"],
            name=op.f("fk_dispatch_flags_task_id_delivery_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_flags")),
    )
    op.create_index(
        op.f("ix_dispatch_flags_resolved_at_raised_at"),
        "dispatch_flags",
        ["resolved_at", "raised_at"],
    )
    op.create_table(
        "tracking_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_tracking_links_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_tracking_links")),
    )
    op.create_index(op.f("ix_tracking_links_order_id"), "tracking_links", ["order_id"])
    op.create_table(
        "carrier_shipments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("task_id", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pickup_eta", TIME, nullable=True),
        sa.Column("drop_eta", TIME, nullable=True),
        sa.Column("events", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["delivery_tasks.id"],
            name=op.f("fk_carrier_shipments_task_id_delivery_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_shipments")),
        sa.UniqueConstraint(
            "carrier", "external_id", name=op.f("uq_carrier_shipments_carrier_external_id")
        ),
        sa.UniqueConstraint("task_id", name=op.f("uq_carrier_shipments_task_id")),
    )


def downgrade() -> None:
    op.drop_table("carrier_shipments")
    op.drop_index(op.f("ix_tracking_links_order_id"), table_name="tracking_links")
    op.drop_table("tracking_links")
    op.drop_index(op.f("ix_dispatch_flags_resolved_at_raised_at"), table_name="dispatch_flags")
    op.drop_table("dispatch_flags")
    op.drop_index(op.f("ix_dispatch_plans_created_at"), table_name="dispatch_plans")
    op.drop_table("dispatch_plans")
    op.drop_index(op.f("ix_delivery_tasks_courier_id_status"), table_name="delivery_tasks")
    op.drop_index(op.f("ix_delivery_tasks_status"), table_name="delivery_tasks")
    op.drop_table("delivery_tasks")
    op.drop_table("courier_states")
    op.drop_table("couriers")

"""inventory domain

Revision ID: 0004
Revises: 0003
Written from cloud.catalog_models, stock_models and order_models; a test compares it with them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("phone_enc", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("opening_hours", JSON, nullable=True),
        sa.Column("capabilities", JSON, nullable=False),
        sa.Column("delivery_radius_km", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_table(
        "pallet_manifests",
        sa.Column("sscc", sa.String(length=18), nullable=False),
        sa.Column("lines", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sscc", name=op.f("pk_pallet_manifests")),
    )
    op.create_table(
        "pii_access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_access_log")),
    )
    op.create_index(
        op.f("ix_pii_access_log_record_type_record_id"),
        "pii_access_log",
        ["record_type", "record_id"],
    )
    op.create_table(
        "projection_cursors",
        sa.Column("projection", sa.String(length=32), nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("projection", "gateway_id", name=op.f("pk_projection_cursors")),
    )
    op.create_table(
        "service_rule_sets",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_service_rule_sets")),
    )
    op.create_table(
        "skus",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("temperature_class", sa.String(length=16), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("volume_cm3", sa.Integer(), nullable=False),
        sa.Column("pack_of", sa.String(length=64), nullable=True),
        sa.Column("pack_quantity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pack_of"], ["skus.id"], name=op.f("fk_skus_pack_of_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skus")),
        sa.UniqueConstraint("gtin", name=op.f("uq_skus_gtin")),
    )
    op.create_table(
        "stock_exceptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_exceptions")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_stock_exceptions_source_ref")),
    )
    op.create_table(
        "member_addresses",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("address_enc", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_addresses_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "label", name=op.f("pk_member_addresses")),
    )
    op.create_table(
        "node_gateways",
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_node_gateways_node_id_nodes")
        ),
        sa.PrimaryKeyConstraint("gateway_id", name=op.f("pk_node_gateways")),
    )
    op.create_index(op.f("ix_node_gateways_node_id"), "node_gateways", ["node_id"])
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("promise_class", sa.String(length=16), nullable=False),
        sa.Column("promise_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("service", JSON, nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("delivery_lat", sa.Float(), nullable=False),
        sa.Column("delivery_lon", sa.Float(), nullable=False),
        sa.Column("address_enc", sa.Text(), nullable=False),
        sa.Column("recipient_name_enc", sa.Text(), nullable=False),
        sa.Column("recipient_phone_enc", sa.Text(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel"], ["channels.id"], name=op.f("fk_orders_channel_channels")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_orders_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_orders_channel_external_id")),
    )
    op.create_index(op.f("ix_orders_status_promise_by"), "orders", ["status", "promise_by"])
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("sku_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("delta_on_hand", sa.Integer(), nullable=False),
        sa.Column("delta_reserved", sa.Integer(), nullable=False),
        sa.Column("delta_on_hold", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_stock_movements_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_stock_movements_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_stock_movements_idempotency_key")),
    )
    op.create_index(
        op.f("ix_stock_movements_node_id_sku_id_id"), "stock_movements", ["node_id", "sku_id", "id"]
    )
    op.create_table(
        "storage_zones",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("temperature_class", sa.String(length=16), nullable=False),
        sa.Column("alarm_subjects", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_storage_zones_node_id_nodes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_zones")),
    )
    op.create_index(op.f("ix_storage_zones_node_id"), "storage_zones", ["node_id"])
    op.create_table(
        "user_nodes",
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_user_nodes_node_id_nodes")
        ),
        sa.PrimaryKeyConstraint("user_name", "node_id", name=op.f("pk_user_nodes")),
    )
    op.create_table(
        "allocation_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("node_ids", JSON, nullable=False),
        sa.Column("promise_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("candidates", JSON, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_allocation_decisions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_decisions")),
    )
    op.create_index(
        op.f("ix_allocation_decisions_order_id_id"), "allocation_decisions", ["order_id", "id"]
    )
    op.create_table(
        "coldchain_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alarm_ref", sa.String(length=200), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lines", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_coldchain_holds_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["storage_zones.id"], name=op.f("fk_coldchain_holds_zone_id_storage_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coldchain_holds")),
        sa.UniqueConstraint("alarm_ref", name=op.f("uq_coldchain_holds_alarm_ref")),
    )
    op.create_index(
        op.f("ix_coldchain_holds_node_id_status"), "coldchain_holds", ["node_id", "status"]
    )
    op.create_table(
        "locations",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], name=op.f("fk_locations_node_id_nodes")),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["storage_zones.id"], name=op.f("fk_locations_zone_id_storage_zones")
        ),
        sa.PrimaryKeyConstraint("node_id", "code", name=op.f("pk_locations")),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index(op.f("ix_order_events_order_id_id"), "order_events", ["order_id", "id"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_order_lines_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_order_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_lines")),
    )
    op.create_table(
        "reservations",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("sku_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_reservations_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_reservations_order_id_orders")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_reservations_sku_id_skus")),
        sa.PrimaryKeyConstraint("order_id", "node_id", "sku_id", name=op.f("pk_reservations")),
    )
    op.create_table(
        "stock_levels",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("sku_id", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("on_hold", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        sa.CheckConstraint("on_hold >= 0", name="on_hold_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_stock_levels_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_stock_levels_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["storage_zones.id"], name=op.f("fk_stock_levels_zone_id_storage_zones")
        ),
        sa.PrimaryKeyConstraint("node_id", "sku_id", name=op.f("pk_stock_levels")),
    )
    op.create_table(
        "stock_transfers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("from_node_id", sa.String(length=64), nullable=False),
        sa.Column("to_node_id", sa.String(length=64), nullable=False),
        sa.Column("lines", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=128), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_node_id"], ["nodes.id"], name=op.f("fk_stock_transfers_from_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["to_node_id"], ["nodes.id"], name=op.f("fk_stock_transfers_to_node_id_nodes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transfers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_stock_transfers_idempotency_key")),
    )
    op.create_index(
        op.f("ix_stock_transfers_to_node_id_status"), "stock_transfers", ["to_node_id", "status"]
    )
    op.create_table(
        "epc_states",
        sa.Column("epc_hex", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_epc_states_node_id_nodes")
        ),
        sa.PrimaryKeyConstraint("epc_hex", name=op.f("pk_epc_states")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_webhook_deliveries_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"),
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_table("epc_states")
    op.drop_table("stock_transfers")
    op.drop_table("webhook_deliveries")
    op.drop_table("stock_levels")
    op.drop_table("reservations")
    op.drop_table("order_lines")
    op.drop_table("order_events")
    op.drop_table("locations")
    op.drop_table("coldchain_holds")
    op.drop_table("allocation_decisions")
    op.drop_table("user_nodes")
    op.drop_table("storage_zones")
    op.drop_table("stock_movements")
    op.drop_table("orders")
    op.drop_table("node_gateways")
    op.drop_table("member_addresses")
    op.drop_table("stock_exceptions")
    op.drop_table("skus")
    op.drop_table("service_rule_sets")
    op.drop_table("projection_cursors")
    op.drop_table("pii_access_log")
    op.drop_table("pallet_manifests")
    op.drop_table("nodes")
    op.drop_table("members")
    op.drop_table("channels")

"""initial schema

Revision ID: 0001
Revises:
Written by autogenerate, then reviewed: the UTCDateTime decorator is stored as
DateTime(timezone=True); JSON is JSONB on PostgreSQL. Dropping a table drops its indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_health", JSON_TYPE, nullable=True),
        sa.Column("clock_skew_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gateways_token_hash")),
    )
    op.create_table(
        "alarms",
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence", JSON_TYPE, nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_alarms_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_alarms")),
    )
    op.create_index(op.f("ix_alarms_subject_started_at"), "alarms", ["subject", "started_at"])

    op.create_table(
        "ingest_gaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("to_seq", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_ingest_gaps_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_gaps")),
    )
    op.create_index(op.f("ix_ingest_gaps_gateway_id"), "ingest_gaps", ["gateway_id"])

    op.create_table(
        "ingest_rejects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", JSON_TYPE, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_ingest_rejects_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rejects")),
    )
    op.create_index(op.f("ix_ingest_rejects_gateway_id"), "ingest_rejects", ["gateway_id"])

    op.create_table(
        "measurements",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_measurements_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_measurements")),
    )
    op.create_index(op.f("ix_measurements_device_id_time"), "measurements", ["device_id", "time"])

    op.create_table(
        "positions",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("course_deg", sa.Float(), nullable=True),
        sa.Column("fix_quality", sa.String(length=16), nullable=False),
        sa.Column("satellites", sa.Integer(), nullable=True),
        sa.Column("hdop", sa.Float(), nullable=True),
        sa.Column("altitude_m", sa.Float(), nullable=True),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_positions_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_positions")),
    )
    op.create_index(op.f("ix_positions_device_id_time"), "positions", ["device_id", "time"])

    op.create_table(
        "scans",
        sa.Column("scanner_id", sa.String(length=128), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_scans_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_scans")),
    )
    op.create_index(op.f("ix_scans_code_time"), "scans", ["code", "time"])

    op.create_table(
        "tag_reads",
        sa.Column("reader_id", sa.String(length=128), nullable=False),
        sa.Column("antenna", sa.Integer(), nullable=False),
        sa.Column("epc_hex", sa.String(length=128), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rssi_dbm", sa.Float(), nullable=True),
        sa.Column("epc_uri", sa.String(length=256), nullable=True),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_tag_reads_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_tag_reads")),
    )
    op.create_index(op.f("ix_tag_reads_epc_hex_time"), "tag_reads", ["epc_hex", "time"])

    op.create_table(
        "vehicles",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("course_deg", sa.Float(), nullable=True),
        sa.Column("fix_quality", sa.String(length=16), nullable=False),
        sa.Column("satellites", sa.Integer(), nullable=True),
        sa.Column("hdop", sa.Float(), nullable=True),
        sa.Column("altitude_m", sa.Float(), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_vehicles_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
    )


def downgrade() -> None:
    op.drop_table("vehicles")
    op.drop_table("tag_reads")
    op.drop_table("scans")
    op.drop_table("positions")
    op.drop_table("measurements")
    op.drop_table("ingest_rejects")
    op.drop_table("ingest_gaps")
    op.drop_table("alarms")
    op.drop_table("gateways")
    op.drop_table("api_keys")

"""tag events (arrived / departed / passed a zone) from the gateway's RFID smoothing

Revision ID: 0003
Revises: 0002
Written by hand to match cloud.models.TagEventRow; a test compares it with the model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tag_events",
        sa.Column("reader_id", sa.String(length=128), nullable=False),
        sa.Column("zone", sa.String(length=128), nullable=False),
        sa.Column("epc_hex", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_count", sa.Integer(), nullable=False),
        sa.Column("epc_uri", sa.String(length=256), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("peak_rssi_dbm", sa.Float(), nullable=True),
        sa.Column("gateway_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_tag_events_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "seq", name=op.f("pk_tag_events")),
    )
    op.create_index(op.f("ix_tag_events_epc_hex_time"), "tag_events", ["epc_hex", "time"])
    op.create_index(op.f("ix_tag_events_zone_time"), "tag_events", ["zone", "time"])


def downgrade() -> None:
    op.drop_table("tag_events")

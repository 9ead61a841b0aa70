"""console: user passwords, console sessions, alarm acknowledgements

Revision ID: 0008
Revises: 0007
Written by hand to match cloud.console_models; a test compares it with the model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_passwords",
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("salt_hex", sa.String(length=64), nullable=False),
        sa.Column("hash_hex", sa.String(length=128), nullable=False),
        sa.Column("params", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_name"],
            ["api_keys.name"],
            name=op.f("fk_user_passwords_user_name_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_name", name=op.f("pk_user_passwords")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_name"],
            ["api_keys.name"],
            name=op.f("fk_console_sessions_user_name_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(
        op.f("ix_console_sessions_user_name"), "console_sessions", ["user_name"], unique=False
    )
    op.create_table(
        "alarm_acks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alarm_key", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_acks")),
    )
    op.create_index(
        op.f("ix_alarm_acks_alarm_key_id"), "alarm_acks", ["alarm_key", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_alarm_acks_alarm_key_id"), table_name="alarm_acks")
    op.drop_table("alarm_acks")
    op.drop_index(op.f("ix_console_sessions_user_name"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("user_passwords")

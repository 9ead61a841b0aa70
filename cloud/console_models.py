"""Console tables: users' passwords, login sessions, operators' acknowledgements of alarms and
the occurrences of the alarm conditions the console derives from state.
Migrations 0008 and 0010 mirror this file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, UTCDateTime


class UserPassword(Base):
    """A user's console password as scrypt(password, salt); the API key stays the API's login."""

    __tablename__ = "user_passwords"

    user_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("api_keys.name", ondelete="CASCADE"), primary_key=True
    )
    salt_hex: Mapped[str] = mapped_column(String(64))
    hash_hex: Mapped[str] = mapped_column(String(128))
    # "scrypt:n=16384,r=8,p=1": verification uses the parameters the hash was made with.
    params: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsoleSession(Base):
    """One console login; the cookie carries the token, only its SHA-256 is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("api_keys.name", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlarmAck(Base):
    """An operator's acknowledge or resolve of one alarm (by its key), with a comment."""

    __tablename__ = "alarm_acks"
    __table_args__ = (Index(None, "alarm_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "alarm:<gateway_id>:<seq>", "gateway_offline:<gateway_id>@<last seen>",
    # "gateway_backlog:<gateway_id>@<occurrence>", "late_risk:<order_id>@<occurrence>", ...
    alarm_key: Mapped[str] = mapped_column(String(256))
    # acknowledge | resolve
    action: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    user_name: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlarmCondition(Base):
    """The current or last occurrence of a condition the console derives from state (a gateway's
    backlog or clock skew, an order's late risk). Its number is part of the alarm's key, so a
    condition that clears and comes back is a new alarm that earlier acknowledgements do not
    cover."""

    __tablename__ = "alarm_conditions"

    # "gateway_backlog:<gateway_id>", "clock_skew:<gateway_id>", "late_risk:<order_id>"
    condition_key: Mapped[str] = mapped_column(String(256), primary_key=True)
    occurrence: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # None while the condition holds; set when the cloud saw it clear.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

"""The configuration document each gateway downloads (its cold-chain rules), one row per gateway.

``version`` grows by one with every change; the gateway fetches the document by that version
(its strong ETag) and applies it without restart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, JSONType, UTCDateTime


class GatewayConfigRow(Base):
    __tablename__ = "gateway_configs"

    gateway_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("gateways.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(128))

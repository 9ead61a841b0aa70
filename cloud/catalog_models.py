"""Catalogue tables: the node network, SKUs, members and who may see what.

Personal data of members (name, phone, address text) is stored only as ciphertext
(``*_enc`` columns, see :mod:`cloud.pii`); coordinates stay in clear because allocation
and routing need them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, JSONType, UTCDateTime


class Node(Base):
    """A regional distribution centre (``dc``), front warehouse or store."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": [["08:00", "22:00"]], ...}; null means open around the clock.
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    capabilities: Mapped[list[str]] = mapped_column(JSONType)
    delivery_radius_km: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NodeGateway(Base):
    """Which node a gateway is installed at; scans and tag events of the gateway land there."""

    __tablename__ = "node_gateways"

    gateway_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"), index=True)


class StorageZone(Base):
    """A temperature-controlled area of a node; cold-chain alarms name it as their subject."""

    __tablename__ = "storage_zones"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    temperature_class: Mapped[str] = mapped_column(String(16))
    # Alarm subjects (edge cold-chain zone names or sensor ids) that stand for this zone.
    alarm_subjects: Mapped[list[str]] = mapped_column(JSONType)


class Location(Base):
    """A bin, shelf or dock door code inside a node that handheld scans refer to."""

    __tablename__ = "locations"

    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    zone_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("storage_zones.id"))


class Sku(Base):
    """A stock-keeping unit; ``pack_of`` and ``pack_quantity`` turn a case GTIN into units."""

    __tablename__ = "skus"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    temperature_class: Mapped[str] = mapped_column(String(16))
    weight_g: Mapped[int] = mapped_column(Integer)
    volume_cm3: Mapped[int] = mapped_column(Integer)
    pack_of: Mapped[str | None] = mapped_column(String(64), ForeignKey("skus.id"))
    pack_quantity: Mapped[int] = mapped_column(Integer, default=1)
    # Deactivated SKUs stay for history but leave the gateway snapshot and new orders.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PalletManifest(Base):
    """What an SSCC-labelled pallet or case holds (from the supplier's despatch advice)."""

    __tablename__ = "pallet_manifests"

    sscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    # [{"sku_id": "...", "quantity": 12}, ...]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Member(Base):
    """A customer from the CRM side; personal fields are ciphertext (see cloud.pii)."""

    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSONType)
    name_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MemberAddress(Base):
    __tablename__ = "member_addresses"

    member_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    address_enc: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class PiiAccess(Base):
    """Audit trail: every read of personal data in clear (who, when, which record, why)."""

    __tablename__ = "pii_access_log"
    __table_args__ = (Index(None, "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserNode(Base):
    """Nodes a warehouse user works at; warehouse users see and move stock only there."""

    __tablename__ = "user_nodes"

    user_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"), primary_key=True)


class Channel(Base):
    """A sales channel (own app, marketplace, delivery platform) and its status webhook."""

    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

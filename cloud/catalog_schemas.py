"""Catalogue request and response models: nodes, zones, locations, SKUs, manifests,
members and channels. ``*In`` is what a client sends (and what an import row becomes)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud.catalog_hours import parse_opening_hours
from firmware_bridge.gs1 import gs1_check_digit, is_valid_sscc

CatalogId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
]
LocationCode = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
]
Label = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
TemperatureClass = Literal["ambient", "chilled", "frozen"]
TEMPERATURE_ORDER: tuple[str, ...] = ("ambient", "chilled", "frozen")
NodeKind = Literal["dc", "front_warehouse", "store"]
ChannelKind = Literal["app", "marketplace", "delivery_platform"]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
OpeningHours = dict[str, list[tuple[str, str]]]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)
    return values


class NodeIn(_In):
    id: CatalogId
    name: str = Field(min_length=1, max_length=200)
    kind: NodeKind
    lat: Latitude
    lon: Longitude
    address: str = Field(default="", max_length=500)
    timezone: str = "Asia/Shanghai"
    opening_hours: OpeningHours | None = Field(
        default=None,
        description='{"mon": [["08:00", "22:00"]], ...} or "mon-fri 08:00-22:00; sat 09:00-18:00"; '
        "null = open around the clock; days left out are closed.",
    )
    capabilities: list[TemperatureClass] = Field(min_length=1)
    delivery_radius_km: float = Field(gt=0, le=500)
    gateways: list[CatalogId] = Field(default_factory=list)
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("opening_hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: Any) -> Any:
        return parse_opening_hours(value)

    @field_validator("capabilities")
    @classmethod
    def _canonical_capabilities(cls, value: list[str]) -> list[str]:
        _unique(value, "capability")
        return [c for c in TEMPERATURE_ORDER if c in value]

    @field_validator("gateways")
    @classmethod
    def _unique_gateways(cls, value: list[str]) -> list[str]:
        return sorted(_unique(value, "gateway"))


class NodePublic(NodeIn):
    pass


class ZoneIn(_In):
    id: CatalogId
    node_id: CatalogId
    name: str = Field(min_length=1, max_length=200)
    temperature_class: TemperatureClass
    alarm_subjects: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list,
        description="Cold-chain alarm subjects (edge zone names, sensor ids) meaning this zone.",
    )

    @field_validator("alarm_subjects")
    @classmethod
    def _unique_subjects(cls, value: list[str]) -> list[str]:
        return sorted(_unique(value, "alarm subject"))


class ZonePublic(ZoneIn):
    pass


class LocationIn(_In):
    node_id: CatalogId
    code: LocationCode
    zone_id: CatalogId | None = None


class LocationPublic(LocationIn):
    pass


def normalize_gtin_field(value: str) -> str:
    """A GTIN-8/12/13/14 left-padded to 14 digits; ValueError saying what is wrong."""
    if not value.isascii() or not value.isdigit():
        raise ValueError("a GTIN has only digits")
    if len(value) not in (8, 12, 13, 14):
        raise ValueError(f"a GTIN has 8, 12, 13 or 14 digits, not {len(value)}")
    expected = gs1_check_digit(value[:-1])
    if expected != int(value[-1]):
        raise ValueError(f"check digit is {value[-1]}, expected {expected}")
    return value.rjust(14, "0")


class SkuIn(_In):
    id: CatalogId
    gtin: str = Field(description="GTIN-8, -12, -13 or -14; stored as 14 digits.")
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=64)
    temperature_class: TemperatureClass
    weight_g: int = Field(ge=0, le=5_000_000)
    volume_cm3: int = Field(ge=0, le=50_000_000)
    pack_of: CatalogId | None = Field(default=None, description="The unit SKU a case holds.")
    pack_quantity: int = Field(default=1, ge=1, le=100_000)
    active: bool = True

    @field_validator("gtin", mode="before")
    @classmethod
    def _gtin(cls, value: Any) -> Any:
        return normalize_gtin_field(str(value).strip()) if isinstance(value, str | int) else value

    @model_validator(mode="after")
    def _pack(self) -> SkuIn:
        if self.pack_of is None and self.pack_quantity != 1:
            raise ValueError("pack_quantity: must be 1 unless pack_of names the unit SKU")
        if self.pack_of is not None:
            if self.pack_of == self.id:
                raise ValueError("pack_of: a SKU cannot be a pack of itself")
            if self.pack_quantity < 2:
                raise ValueError("pack_quantity: a case holds at least 2 units")
        return self


class SkuPublic(SkuIn):
    pass


class ManifestLine(_In):
    sku_id: CatalogId
    quantity: int = Field(ge=1, le=1_000_000)


class ManifestIn(_In):
    sscc: str = Field(description="18-digit SSCC with its check digit.")
    lines: list[ManifestLine] = Field(min_length=1, max_length=1000)

    @field_validator("sscc")
    @classmethod
    def _sscc(cls, value: str) -> str:
        if not is_valid_sscc(value):
            if len(value) == 18 and value.isascii() and value.isdigit():
                expected = gs1_check_digit(value[:-1])
                raise ValueError(f"check digit is {value[-1]}, expected {expected}")
            raise ValueError("an SSCC has 18 digits")
        return value

    @field_validator("lines")
    @classmethod
    def _unique_skus(cls, value: list[ManifestLine]) -> list[ManifestLine]:
        _unique([line.sku_id for line in value], "sku_id")
        return value


class ManifestPublic(ManifestIn):
    pass


class AddressIn(_In):
    label: Label
    address: str = Field(min_length=1, max_length=500)
    lat: Latitude
    lon: Longitude


_PHONE = re.compile(r"^\+?[0-9][0-9 -]{3,30}$")


class MemberIn(_In):
    id: CatalogId
    tier: Label
    tags: list[Label] = Field(default_factory=list)
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=4, max_length=32)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=20)
    active: bool = True

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        return sorted(_unique(value, "tag"))

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if not _PHONE.match(value):
            raise ValueError("use digits, spaces, dashes and an optional leading +")
        return value

    @field_validator("addresses")
    @classmethod
    def _unique_labels(cls, value: list[AddressIn]) -> list[AddressIn]:
        _unique([a.label for a in value], "address label")
        return sorted(value, key=lambda a: a.label)


class AddressPublic(BaseModel):
    label: str
    address: str
    lat: float
    lon: float


class MemberPublic(BaseModel):
    id: str
    tier: str
    tags: list[str]
    name: str
    phone: str
    addresses: list[AddressPublic]
    active: bool
    masked: bool = Field(description="True when name, phone and addresses are masked.")


class ChannelIn(_In):
    id: CatalogId
    kind: ChannelKind
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=128)
    active: bool = True

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("use an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _secret_with_url(self) -> ChannelIn:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("webhook_secret: required with webhook_url (it signs the callbacks)")
        return self


class ChannelPublic(BaseModel):
    id: str
    kind: str
    webhook_url: str | None
    has_webhook_secret: bool
    active: bool


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null at end.")


class ImportProblem(BaseModel):
    line: int | None = Field(description="CSV line (header = 1) or JSON item number (1-based).")
    field: str
    message: str


class ImportResult(BaseModel):
    kind: str
    total: int
    created: int
    updated: int
    unchanged: int


class UserNodes(BaseModel):
    node_ids: list[CatalogId]


class PiiAccessPublic(BaseModel):
    id: int
    actor: str
    role: str
    record_type: str
    record_id: str
    fields: list[str]
    reason: str
    at: str


class SnapshotLocation(BaseModel):
    code: str
    zone_id: str | None


class SnapshotSku(BaseModel):
    id: str
    gtin: str
    name: str
    temperature_class: str
    pack_of: str | None
    pack_quantity: int


class CatalogueSnapshot(BaseModel):
    node: NodePublic
    locations: list[SnapshotLocation]
    skus: list[SnapshotSku]

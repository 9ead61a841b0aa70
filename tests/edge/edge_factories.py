"""Record factories shared by the edge tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firmware_bridge.records import (
    FixQuality,
    Measurement,
    Position,
    Quantity,
    Scan,
    ScanOperation,
    Unit,
)

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def position(i: int, device_id: str = "van-7") -> Position:
    return Position(
        device_id=device_id,
        time=T0 + timedelta(seconds=i),
        lat=52.0 + i / 1000,
        lon=4.5,
        speed_mps=3.0,
        fix_quality=FixQuality.GPS,
        satellites=8,
    )


def measurement(i: int) -> Measurement:
    return Measurement(
        device_id="fridge-1",
        time=T0 + timedelta(seconds=i),
        quantity=Quantity.TEMPERATURE,
        value=3.5,
        unit=Unit.CELSIUS,
    )


def scan(i: int) -> Scan:
    return Scan(
        scanner_id="hh-1",
        operator="ann",
        operation=ScanOperation.PICK,
        code="09506000134352",
        quantity=1,
        location="A-01",
        time=T0 + timedelta(seconds=i),
    )

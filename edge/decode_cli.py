"""``retailedge decode``: raw device input to JSON lines of records, for field engineers.

One input line at a time: NMEA sentences as text; Modbus RTU response frames, R2000 reader frames
and EPCs as hex (spaces allowed; blank lines and ``#`` comments skipped); BLE advertisements as
JSON, parsed within :mod:`edge.bounded_json`'s limits. Each decoded record is one JSON line on
stdout; each line that fails is reported on stderr as ``line N: <error>`` and makes the exit
status 1. Only the codecs' typed errors (all ValueErrors) are caught.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import IO, Any, Protocol, cast

import click

from device_profiles import DeviceProfile, ProfileError, load_profile
from device_profiles.modbus_map import block_at, decode_block
from edge.bounded_json import loads_bounded
from firmware_bridge.ble_advert import advert_from_json
from firmware_bridge.ble_decode import SENSOR_FORMATS, SensorFormat, decode_measurements
from firmware_bridge.ble_ibeacon import decode_ibeacon_advert
from firmware_bridge.epc import decode_epc
from firmware_bridge.modbus import (
    EXCEPTION_FLAG,
    RegistersResponse,
    WriteResponse,
    parse_response,
    strip_crc,
)
from firmware_bridge.nmea import FixAssembler, NoFix, parse_sentence
from firmware_bridge.records import Position
from firmware_bridge.rfid_r2000 import TagReport, decode_hex_frame, to_tag_read
from firmware_bridge.wire import format_time, parse_time, record_to_wire

BLE_PROTOCOLS = (*SENSOR_FORMATS, "ibeacon")
PROTOCOLS = ("nmea", "modbus", "epc", "rfid", *BLE_PROTOCOLS)
Json = dict[str, Any]


class LineDecoder(Protocol):
    def decode(self, line: str) -> list[Json]:
        """JSON objects for one input line; raises ValueError (a codec error) when it fails."""
        ...

    def finish(self) -> list[Json]:
        """Whatever is still pending at the end of the input."""
        ...


def plain(value: Any) -> Any:
    """``value`` made JSON-ready: dataclasses to dicts, enums to values, bytes to hex."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def hex_bytes(line: str) -> bytes:
    text = "".join(line.split())
    text = text[2:] if text[:2].lower() == "0x" else text
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"not hex: {line.strip()!r}") from None


class NmeaDecoder:
    def __init__(self, device_id: str, clock: Callable[[], datetime]) -> None:
        self._assembler = FixAssembler(device_id)
        self._clock = clock

    def decode(self, line: str) -> list[Json]:
        sentence = parse_sentence(line.strip())
        return [self._json(result) for result in self._assembler.push(sentence, self._clock())]

    def finish(self) -> list[Json]:
        return [self._json(result) for result in self._assembler.flush()]

    @staticmethod
    def _json(result: Position | NoFix) -> Json:
        if isinstance(result, Position):
            return record_to_wire(result)
        return {"kind": "no_fix", **plain(result)}


class ModbusDecoder:
    """Response frames; with a profile, registers become Measurements through its map."""

    def __init__(
        self,
        profile: DeviceProfile | None,
        device_id: str | None,
        address: int | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._profile = profile
        self._device_id = device_id
        self._address = address
        self._clock = clock

    def decode(self, line: str) -> list[Json]:
        frame = hex_bytes(line)
        strip_crc(frame)  # a clear "too short" or CRC error before anything is read from it
        slave, function = frame[0], frame[1] & ~EXCEPTION_FLAG
        response = parse_response(frame, slave, function)
        if isinstance(response, WriteResponse):
            return [{"kind": "modbus_write", **plain(response)}]
        if self._profile is None:
            return [{"kind": "modbus_registers", **plain(response)}]
        return self._measurements(self._profile, response)

    def finish(self) -> list[Json]:
        return []

    def _measurements(self, profile: DeviceProfile, response: RegistersResponse) -> list[Json]:
        count = len(response.registers)
        block = block_at(profile, response.function, self._address, count)
        device_id = self._device_id or f"slave-{response.slave}"
        readings, rejected = decode_block(block, response.registers, device_id, self._clock())
        if rejected:
            raise ValueError("; ".join(str(item) for item in rejected))
        return [record_to_wire(reading) for reading in readings]


class EpcDecoder:
    def decode(self, line: str) -> list[Json]:
        return [plain(decode_epc(line.strip()))]

    def finish(self) -> list[Json]:
        return []


class RfidDecoder:
    def __init__(self, reader_id: str, clock: Callable[[], datetime]) -> None:
        self._reader_id = reader_id
        self._clock = clock

    def decode(self, line: str) -> list[Json]:
        response = decode_hex_frame(" ".join(line.split()))
        if isinstance(response, TagReport):
            return [record_to_wire(to_tag_read(response, self._reader_id, self._clock()))]
        return [{"kind": _snake(type(response).__name__), **plain(response)}]

    def finish(self) -> list[Json]:
        return []


class BleDecoder:
    """JSON lines of BLE advertisement records (see :mod:`firmware_bridge.ble_advert`)."""

    def __init__(
        self,
        protocol: str,
        device_id: str | None,
        bindkey: bytes | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._protocol = protocol
        self._device_id = device_id
        self._bindkey = bindkey
        self._clock = clock

    def decode(self, line: str) -> list[Json]:
        advert = advert_from_json(loads_bounded(line))
        time = advert.time or self._clock()
        if self._protocol == "ibeacon":
            return [{"kind": "ibeacon", **plain(decode_ibeacon_advert(advert, time))}]
        protocol = cast(SensorFormat, self._protocol)
        readings = decode_measurements(
            advert, time, protocol, device_id=self._device_id, bindkey=self._bindkey
        )
        return [record_to_wire(reading) for reading in readings]

    def finish(self) -> list[Json]:
        return []


def _bindkey_option(value: str | None, protocol: str) -> bytes | None:
    if value is None:
        return None
    if protocol != "bthome":
        raise click.BadParameter("only for --protocol bthome", param_hint="--bindkey")
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) != 16:
        raise click.BadParameter("expected 32 hex digits (16 bytes)", param_hint="--bindkey")
    return key


@dataclasses.dataclass
class DecodeResult:
    records: int = 0
    failed: int = 0
    lines: int = 0


def decode_lines(
    decoder: LineDecoder,
    lines: Iterable[str],
    emit: Callable[[Json], None],
    report: Callable[[int, str], None],
    *,
    skip_comments: bool = True,
) -> DecodeResult:
    """Feed every non-blank line to ``decoder``; records to ``emit``, failures to ``report``."""
    result = DecodeResult()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or (skip_comments and text.startswith("#")):
            continue
        result.lines += 1
        try:
            produced = decoder.decode(text)
        except ValueError as exc:
            result.failed += 1
            report(number, str(exc) or type(exc).__name__)
            continue
        for item in produced:
            emit(item)
        result.records += len(produced)
    for item in decoder.finish():
        emit(item)
        result.records += 1
    return result


def _text_lines(stream: IO[bytes]) -> Iterable[str]:
    for raw in stream:
        yield raw.decode("ascii", errors="replace")


def _clock_option(value: str | None) -> Callable[[], datetime]:
    if value is None:
        return lambda: datetime.now(UTC)
    try:
        fixed = parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}", param_hint="--time") from exc
    return lambda: fixed


def _decoder(
    protocol: str,
    device_id: str | None,
    register_map: str | None,
    address: int | None,
    clock: Callable[[], datetime],
    bindkey: bytes | None = None,
) -> LineDecoder:
    if register_map is not None and protocol != "modbus":
        raise click.BadParameter("only for --protocol modbus", param_hint="--register-map")
    if protocol == "nmea":
        return NmeaDecoder(device_id or "gps", clock)
    if protocol == "epc":
        return EpcDecoder()
    if protocol == "rfid":
        return RfidDecoder(device_id or "reader", clock)
    if protocol in BLE_PROTOCOLS:
        return BleDecoder(protocol, device_id, bindkey, clock)
    profile = None
    if register_map is not None:
        try:
            profile = load_profile(register_map)
        except ProfileError as exc:
            raise click.BadParameter(str(exc), param_hint="--register-map") from exc
    return ModbusDecoder(profile, device_id, address, clock)


@click.command(name="decode")
@click.option("--protocol", type=click.Choice(PROTOCOLS), required=True)
@click.option(
    "--device-id",
    default=None,
    help="Device id on records [nmea: gps; modbus: slave-N; rfid: reader; BLE: the address].",
)
@click.option(
    "--bindkey",
    default=None,
    metavar="HEX",
    help="bthome: the sensor's 16-byte AES bind key (32 hex digits) for encrypted adverts.",
)
@click.option(
    "--register-map",
    default=None,
    metavar="PROFILE",
    help="modbus: device profile name or file whose register map turns registers into "
    "Measurements (raw registers without it).",
)
@click.option(
    "--address",
    type=click.IntRange(0, 0xFFFF),
    default=None,
    help="modbus: register address the responses start at [default: the map's first "
    "register of the table read].",
)
@click.option(
    "--time",
    "time_text",
    default=None,
    metavar="ISO8601",
    help="Receive time stamped on records (default: now, UTC).",
)
@click.argument("source", type=click.File("rb"), default="-", required=False)
def decode_command(
    protocol: str,
    device_id: str | None,
    register_map: str | None,
    address: int | None,
    time_text: str | None,
    bindkey: str | None,
    source: IO[bytes],
) -> None:
    """Decode raw device input from SOURCE (a file, or - / nothing for stdin) to JSON lines.

    nmea: NMEA 0183 sentences, one per line, to positions and no-fix epochs. modbus: one RTU
    response frame in hex per line. epc: one EPC in hex per line, to its GS1 identity. rfid: one
    R2000 (0xA0) reader frame in hex per line, tag reports to tag reads. ruuvi, atc, pvvx,
    bthome, ibeacon: one BLE advertisement record in JSON per line (address, rssi, local_name,
    manufacturer_data {id: hex}, service_data {uuid: hex}, optional time) to measurements
    (ibeacon: sightings with an estimated distance). Failing lines go to
    stderr as "line N: error" and make the exit status 1.
    """
    clock = _clock_option(time_text)
    key = _bindkey_option(bindkey, protocol)
    decoder = _decoder(protocol, device_id, register_map, address, clock, key)
    result = decode_lines(
        decoder,
        _text_lines(source),
        lambda item: click.echo(json.dumps(item, ensure_ascii=False)),
        lambda number, error: click.echo(f"line {number}: {error}", err=True),
        skip_comments=protocol != "nmea",
    )
    if result.failed:
        click.echo(f"{result.failed} of {result.lines} lines failed", err=True)
        raise SystemExit(1)

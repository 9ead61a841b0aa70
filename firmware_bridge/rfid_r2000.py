"""Codec of the Impinj-R2000-based UHF reader serial protocol (the "0xA0" command set).

Source: "UHF RFID Reader Serial Interface Protocol", V3.7 (the command set shipped with the many
R2000-module readers, e.g. CZS6147 / YR9000 families). Section 2.1 (reader commands):
cmd_reset 0x70, cmd_get_firmware_version 0x72, cmd_set_work_antenna 0x74,
cmd_get_work_antenna 0x75; section 2.2 (18000-6C): cmd_real_time_inventory 0x89,
cmd_fast_switch_ant_inventory 0x8A; section 3: error codes. Framing lives in
:mod:`firmware_bridge.rfid_r2000_framing`.

Starting and stopping: this family has no "stop" command. An inventory command runs ``Repeat``
rounds and ends with an end frame; a host that wants continuous reading re-issues the command
when the end frame arrives and stops by not re-issuing it (cmd_reset aborts one in progress).

Tag reports (0x89 and 0x8A share them): ``FreqAnt PC[2] EPC[n] RSSI``. FreqAnt holds the
antenna (0..3) in its low 2 bits and the frequency point in its high 6 bits; 8-port readers
flag antennas 5..8 with the high bit of RSSI. The RSSI table of the document is linear:
value 98 is -31 dBm, one dB per step, i.e. ``dBm = (RSSI & 0x7F) - 129``.
Antennas are numbered 1..8 here, as the document and reader labels number them; the wire
carries 0-based ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from firmware_bridge.epc import decode_epc
from firmware_bridge.epc_errors import EpcError
from firmware_bridge.records import TagRead
from firmware_bridge.rfid_r2000_framing import (
    BROADCAST_ADDRESS,
    Frame,
    RfidChecksumError,
    RfidError,
    RfidFrameError,
    RfidLengthError,
    RfidUnknownCommandError,
    encode_frame,
    parse_frame,
)


class Command(IntEnum):
    RESET = 0x70
    GET_FIRMWARE_VERSION = 0x72
    SET_WORK_ANTENNA = 0x74
    GET_WORK_ANTENNA = 0x75
    REAL_TIME_INVENTORY = 0x89
    FAST_SWITCH_ANT_INVENTORY = 0x8A


SUCCESS = 0x10
ANTENNA_MISSING = 0x22
ERROR_CODES: dict[int, str] = {
    0x10: "command_success",
    0x11: "command_fail",
    0x20: "mcu_reset_error",
    0x21: "cw_on_error",
    0x22: "antenna_missing_error",
    0x23: "write_flash_error",
    0x24: "read_flash_error",
    0x25: "set_output_power_error",
    0x31: "tag_inventory_error",
    0x32: "tag_read_error",
    0x33: "tag_write_error",
    0x34: "tag_lock_error",
    0x35: "tag_kill_error",
    0x36: "no_tag_error",
    0x37: "inventory_ok_but_access_fail",
    0x38: "buffer_is_empty_error",
    0x3C: "nxp_custom_command_fail",
    0x40: "access_or_password_error",
    0x41: "parameter_invalid",
    0x42: "parameter_invalid_wordcnt_too_long",
    0x43: "parameter_invalid_membank_out_of_range",
    0x44: "parameter_invalid_lock_region_out_of_range",
    0x45: "parameter_invalid_lock_action_out_of_range",
    0x46: "parameter_reader_address_invalid",
    0x47: "parameter_invalid_antenna_id_out_of_range",
    0x48: "parameter_invalid_output_power_out_of_range",
    0x49: "parameter_invalid_frequency_region_out_of_range",
    0x4A: "parameter_invalid_baudrate_out_of_range",
    0x4B: "parameter_beeper_mode_out_of_range",
    0x4C: "parameter_epc_match_len_too_long",
    0x4D: "parameter_epc_match_len_error",
    0x4E: "parameter_invalid_epc_match_mode",
    0x4F: "parameter_invalid_frequency_range",
    0x50: "fail_to_get_rn16_from_tag",
    0x51: "parameter_invalid_drm_mode",
    0x52: "pll_lock_fail",
    0x53: "rf_chip_fail_to_response",
    0x54: "fail_to_achieve_desired_output_power",
    0x55: "copyright_authentication_fail",
    0x56: "spectrum_regulation_error",
    0x57: "output_power_too_low",
}

MAX_ANTENNA = 8
PORTS_PER_GROUP = 4
RSSI_OFFSET = 129
RSSI_MIN_DBM = -RSSI_OFFSET
RSSI_MAX_DBM = 0x7F - RSSI_OFFSET
MAX_FREQUENCY_POINT = 0x3F
MAX_EPC_WORDS = 31
"""The PC word's EPC length field is 5 bits."""
SKIPPED_ANTENNA = 0xFF
"""Fast-switch slot value meaning "no antenna" (any id above 3 is skipped by the reader)."""
FAST_SWITCH_SLOTS = 4
_END_FRAME_DATA = 7
_TAG_OVERHEAD = 4


def error_name(code: int) -> str:
    return ERROR_CODES.get(code, f"unknown_error_{code:#04x}")


def rssi_to_dbm(raw: int) -> int:
    return (raw & 0x7F) - RSSI_OFFSET


def pc_for_epc(epc: bytes) -> int:
    """The PC word a tag with this EPC (no UMI, no XPC) backscatters: length in words << 11."""
    return (len(epc) // 2) << 11


def _byte(value: int, low: int, high: int, what: str) -> int:
    if not low <= value <= high:
        raise RfidFrameError(f"{what} must be {low}..{high}, got {value}")
    return value


def _wire_antenna(antenna: int, highest: int = PORTS_PER_GROUP) -> int:
    return _byte(antenna, 1, highest, "antenna") - 1


# --- host -> reader ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reset:
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class GetFirmwareVersion:
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class SetWorkAntenna:
    antenna: int
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class GetWorkAntenna:
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class RealTimeInventory:
    """Inventory on the work antenna for ``repeat`` rounds, reporting every read at once."""

    repeat: int = 1
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class AntennaStep:
    antenna: int
    stay: int = 1
    """Inventory rounds on this antenna before switching."""


@dataclass(frozen=True, slots=True)
class FastSwitchInventory:
    """Cycle through up to four antennas ``repeat`` times, pausing ``interval_ms`` between."""

    steps: tuple[AntennaStep, ...]
    interval_ms: int = 0
    repeat: int = 1
    address: int = BROADCAST_ADDRESS


Request = (
    Reset
    | GetFirmwareVersion
    | SetWorkAntenna
    | GetWorkAntenna
    | RealTimeInventory
    | FastSwitchInventory
)


def encode_request(request: Request) -> bytes:
    """The bytes a host sends; raises :class:`RfidFrameError` for out-of-range parameters."""
    address = _byte(request.address, 0, 0xFF, "address")
    match request:
        case Reset():
            return encode_frame(address, Command.RESET)
        case GetFirmwareVersion():
            return encode_frame(address, Command.GET_FIRMWARE_VERSION)
        case SetWorkAntenna(antenna=antenna):
            return encode_frame(address, Command.SET_WORK_ANTENNA, bytes((_wire_antenna(antenna),)))
        case GetWorkAntenna():
            return encode_frame(address, Command.GET_WORK_ANTENNA)
        case RealTimeInventory(repeat=repeat):
            data = bytes((_byte(repeat, 1, 0xFF, "repeat"),))
            return encode_frame(address, Command.REAL_TIME_INVENTORY, data)
        case FastSwitchInventory():
            return encode_frame(address, Command.FAST_SWITCH_ANT_INVENTORY, _fast_switch(request))


def _fast_switch(request: FastSwitchInventory) -> bytes:
    if not 1 <= len(request.steps) <= FAST_SWITCH_SLOTS:
        raise RfidFrameError(f"fast switch takes 1..{FAST_SWITCH_SLOTS} antenna steps")
    data = bytearray()
    for step in request.steps:
        data += bytes((_wire_antenna(step.antenna), _byte(step.stay, 1, 0xFF, "stay")))
    for _ in range(FAST_SWITCH_SLOTS - len(request.steps)):
        data += bytes((SKIPPED_ANTENNA, 1))
    data.append(_byte(request.interval_ms, 0, 0xFF, "interval"))
    data.append(_byte(request.repeat, 1, 0xFF, "repeat"))
    return bytes(data)


def decode_request(frame: Frame) -> Request:
    """What a reader (the simulator) makes of a host frame."""
    data, address = frame.data, frame.address
    match frame.cmd, len(data):
        case Command.RESET, 0:
            return Reset(address)
        case Command.GET_FIRMWARE_VERSION, 0:
            return GetFirmwareVersion(address)
        case Command.SET_WORK_ANTENNA, 1:
            return SetWorkAntenna(_request_antenna(data[0]), address)
        case Command.GET_WORK_ANTENNA, 0:
            return GetWorkAntenna(address)
        case Command.REAL_TIME_INVENTORY, 1:
            return RealTimeInventory(_byte(data[0], 1, 0xFF, "repeat"), address)
        case Command.FAST_SWITCH_ANT_INVENTORY, 10:
            return _decode_fast_switch_request(data, address)
    if frame.cmd not in set(Command):
        raise RfidUnknownCommandError(f"command {frame.cmd:#04x} is not implemented")
    raise RfidFrameError(f"command {frame.cmd:#04x} with {len(data)} data bytes")


def _request_antenna(wire: int) -> int:
    if wire >= PORTS_PER_GROUP:
        raise RfidFrameError(f"antenna id {wire} is out of range 0..3")
    return wire + 1


def _decode_fast_switch_request(data: bytes, address: int) -> FastSwitchInventory:
    steps = tuple(
        AntennaStep(data[i] + 1, _byte(data[i + 1], 1, 0xFF, "stay"))
        for i in range(0, 2 * FAST_SWITCH_SLOTS, 2)
        if data[i] < PORTS_PER_GROUP
    )
    if not steps:
        raise RfidFrameError("fast switch inventory with every antenna skipped")
    repeat = _byte(data[9], 1, 0xFF, "repeat")
    return FastSwitchInventory(steps, data[8], repeat, address)


# --- reader -> host ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagReport:
    """One tag read during an inventory round."""

    antenna: int
    frequency_point: int
    pc: int
    epc: bytes
    rssi_dbm: int
    cmd: int = Command.REAL_TIME_INVENTORY
    address: int = BROADCAST_ADDRESS

    @property
    def epc_hex(self) -> str:
        return self.epc.hex().upper()


@dataclass(frozen=True, slots=True)
class InventoryEnd:
    """End of a real-time inventory: reads per second and reads in total."""

    antenna: int
    read_rate: int
    total_read: int
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class FastSwitchEnd:
    total_read: int
    duration_ms: int
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class AntennaMissing:
    """Fast switch inventory skipped an antenna the reader found unconnected."""

    antenna: int
    code: int = ANTENNA_MISSING
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """A one-byte ErrorCode answer: success (0x10) or the reason a command failed."""

    cmd: int
    code: int
    address: int = BROADCAST_ADDRESS

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS

    @property
    def name(self) -> str:
        return error_name(self.code)


@dataclass(frozen=True, slots=True)
class FirmwareVersion:
    major: int
    minor: int
    address: int = BROADCAST_ADDRESS


@dataclass(frozen=True, slots=True)
class WorkAntenna:
    antenna: int
    address: int = BROADCAST_ADDRESS


Response = (
    TagReport
    | InventoryEnd
    | FastSwitchEnd
    | AntennaMissing
    | CommandStatus
    | FirmwareVersion
    | WorkAntenna
)


def decode_response(frame: Frame) -> Response:
    """Decode one reader frame; raises only :class:`RfidError` subclasses."""
    data, address, cmd = frame.data, frame.address, frame.cmd
    if len(data) == 1 and data[0] in ERROR_CODES:
        # Every command, implemented here or not, can fail with a one-byte ErrorCode.
        return CommandStatus(cmd, data[0], address)
    if cmd not in set(Command):
        raise RfidUnknownCommandError(f"command {cmd:#04x} is not implemented")
    if len(data) == 1 and cmd != Command.GET_WORK_ANTENNA:
        return CommandStatus(cmd, data[0], address)
    match cmd, len(data):
        case Command.GET_FIRMWARE_VERSION, 2:
            return FirmwareVersion(data[0], data[1], address)
        case Command.GET_WORK_ANTENNA, 1:
            return WorkAntenna(_end_antenna(data[0]), address)
        case Command.REAL_TIME_INVENTORY, 7:
            return InventoryEnd(
                _end_antenna(data[0]),
                int.from_bytes(data[1:3], "big"),
                int.from_bytes(data[3:7], "big"),
                address,
            )
        case Command.FAST_SWITCH_ANT_INVENTORY, 7:
            total = int.from_bytes(data[0:3], "big")
            return FastSwitchEnd(total, int.from_bytes(data[3:7], "big"), address)
        case Command.FAST_SWITCH_ANT_INVENTORY, 2:
            return AntennaMissing(_end_antenna(data[0]), data[1], address)
        case ((Command.REAL_TIME_INVENTORY | Command.FAST_SWITCH_ANT_INVENTORY), _):
            return _decode_tag_report(cmd, data, address)
    raise RfidFrameError(f"command {cmd:#04x} answered with {len(data)} data bytes")


def _end_antenna(wire: int) -> int:
    if wire >= PORTS_PER_GROUP:
        raise RfidFrameError(f"antenna id {wire} is out of range 0..3")
    return wire + 1


def _decode_tag_report(cmd: int, data: bytes, address: int) -> TagReport:
    epc_length = len(data) - _TAG_OVERHEAD
    if epc_length < 0 or epc_length % 2:
        raise RfidFrameError(f"tag report with {len(data)} data bytes: EPC is not whole words")
    pc = int.from_bytes(data[1:3], "big")
    if pc >> 11 != epc_length // 2:
        raise RfidFrameError(f"PC {pc:#06x} announces {pc >> 11} EPC words, got {epc_length // 2}")
    freq_ant, rssi = data[0], data[-1]
    group = PORTS_PER_GROUP if rssi & 0x80 else 0
    return TagReport(
        antenna=(freq_ant & 0x03) + 1 + group,
        frequency_point=freq_ant >> 2,
        pc=pc,
        epc=bytes(data[3:-1]),
        rssi_dbm=rssi_to_dbm(rssi),
        cmd=cmd,
        address=address,
    )


def encode_response(response: Response) -> bytes:
    """The bytes a reader sends (used by the simulator); validates every field."""
    address = _byte(response.address, 0, 0xFF, "address")
    match response:
        case TagReport():
            return encode_frame(address, response.cmd, _tag_report_data(response))
        case InventoryEnd(antenna=antenna, read_rate=rate, total_read=total):
            _byte(rate, 0, 0xFFFF, "read rate")
            _byte(total, 0, 0xFFFFFFFF, "total read")
            data = bytes((_wire_antenna(antenna),)) + rate.to_bytes(2, "big")
            return encode_frame(
                address, Command.REAL_TIME_INVENTORY, data + total.to_bytes(4, "big")
            )
        case FastSwitchEnd(total_read=total, duration_ms=duration):
            _byte(total, 0, 0xFFFFFF, "total read")
            _byte(duration, 0, 0xFFFFFFFF, "duration")
            data = total.to_bytes(3, "big") + duration.to_bytes(4, "big")
            return encode_frame(address, Command.FAST_SWITCH_ANT_INVENTORY, data)
        case AntennaMissing(antenna=antenna, code=code):
            data = bytes((_wire_antenna(antenna), _byte(code, 0, 0xFF, "error code")))
            return encode_frame(address, Command.FAST_SWITCH_ANT_INVENTORY, data)
        case CommandStatus(cmd=cmd, code=code):
            return encode_frame(address, cmd, bytes((_byte(code, 0, 0xFF, "error code"),)))
        case FirmwareVersion(major=major, minor=minor):
            data = bytes((_byte(major, 0, 0xFF, "major"), _byte(minor, 0, 0xFF, "minor")))
            return encode_frame(address, Command.GET_FIRMWARE_VERSION, data)
        case WorkAntenna(antenna=antenna):
            return encode_frame(address, Command.GET_WORK_ANTENNA, bytes((_wire_antenna(antenna),)))


def _tag_report_data(report: TagReport) -> bytes:
    if report.cmd not in (Command.REAL_TIME_INVENTORY, Command.FAST_SWITCH_ANT_INVENTORY):
        raise RfidFrameError(f"tag reports belong to 0x89 or 0x8A, not {report.cmd:#04x}")
    if len(report.epc) % 2 or len(report.epc) > 2 * MAX_EPC_WORDS:
        raise RfidFrameError(f"EPC must be whole words, at most 62 bytes; got {len(report.epc)}")
    if report.pc >> 11 != len(report.epc) // 2:
        raise RfidFrameError(f"PC {report.pc:#06x} does not announce {len(report.epc)} bytes")
    _byte(report.pc, 0, 0xFFFF, "PC")
    antenna = _byte(report.antenna, 1, MAX_ANTENNA, "antenna") - 1
    frequency = _byte(report.frequency_point, 0, MAX_FREQUENCY_POINT, "frequency point")
    rssi = _byte(report.rssi_dbm, RSSI_MIN_DBM, RSSI_MAX_DBM, "RSSI dBm") + RSSI_OFFSET
    if antenna >= PORTS_PER_GROUP:
        rssi |= 0x80
    freq_ant = (frequency << 2) | (antenna % PORTS_PER_GROUP)
    return bytes((freq_ant,)) + report.pc.to_bytes(2, "big") + report.epc + bytes((rssi,))


# --- records ----------------------------------------------------------------------------------


def to_tag_read(report: TagReport, reader_id: str, time: datetime) -> TagRead:
    """The record for one report; ``epc_uri`` only when the EPC decodes as a GS1 identity."""
    epc_hex = report.epc_hex
    try:
        epc_uri = decode_epc(epc_hex).pure_uri
    except EpcError:
        epc_uri = None
    return TagRead(
        reader_id=reader_id,
        antenna=report.antenna,
        epc_hex=epc_hex,
        time=time,
        rssi_dbm=float(report.rssi_dbm),
        epc_uri=epc_uri,
    )


def decode_hex_frame(text: str) -> Response:
    """One frame written as hex (spaces allowed), as a field engineer pastes it."""
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise RfidFrameError(f"not hex: {text.strip()!r}") from exc
    return decode_response(parse_frame(raw))


__all__ = [
    "ANTENNA_MISSING",
    "ERROR_CODES",
    "MAX_ANTENNA",
    "RSSI_MAX_DBM",
    "RSSI_MIN_DBM",
    "SUCCESS",
    "AntennaMissing",
    "AntennaStep",
    "Command",
    "CommandStatus",
    "FastSwitchEnd",
    "FastSwitchInventory",
    "FirmwareVersion",
    "GetFirmwareVersion",
    "GetWorkAntenna",
    "InventoryEnd",
    "RealTimeInventory",
    "Request",
    "Reset",
    "Response",
    "RfidChecksumError",
    "RfidError",
    "RfidFrameError",
    "RfidLengthError",
    "RfidUnknownCommandError",
    "SetWorkAntenna",
    "TagReport",
    "WorkAntenna",
    "decode_hex_frame",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "error_name",
    "pc_for_epc",
    "rssi_to_dbm",
    "to_tag_read",
]

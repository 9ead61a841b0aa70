"""``retailedge decode``: every protocol, per-line errors with line numbers, exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.decode_cli import (
    EpcDecoder,
    LineDecoder,
    ModbusDecoder,
    NmeaDecoder,
    RfidDecoder,
    decode_command,
    decode_lines,
)
from firmware_bridge.rfid_r2000 import InventoryEnd, TagReport, encode_response, pc_for_epc
from firmware_bridge.wire import parse_time

T = "2024-05-01T06:00:00Z"
GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
SGTIN = "3034257BF7194E4000001A85"


def run(*args: str, stdin: str = "") -> tuple[int, list[object], str]:
    result = CliRunner().invoke(decode_command, list(args), input=stdin)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr


def test_nmea_to_positions() -> None:
    code, out, err = run(
        "--protocol", "nmea", "--device-id", "van-7", "--time", T, stdin=f"{GGA}\n{RMC}\n"
    )
    assert (code, err) == (0, "")
    assert out == [
        {
            "device_id": "van-7",
            "time": "1994-03-23T12:35:19Z",
            "lat": 48.1173,
            "lon": 11.516666666666667,
            "speed_mps": 11.523555555555555,  # 22.4 kn
            "course_deg": 84.4,
            "fix_quality": "gps",
            "satellites": 8,
            "hdop": 0.9,
            "altitude_m": 545.4,
            "kind": "position",
        }
    ]


def test_nmea_errors_carry_line_numbers_and_exit_1() -> None:
    bad = GGA[:-2] + "00"
    code, out, err = run("--protocol", "nmea", "--time", T, stdin=f"{bad}\n\nnot nmea\n{GGA}\n")
    assert code == 1
    assert [item["kind"] for item in out] == ["position"]  # type: ignore[index]
    lines = err.splitlines()
    assert lines[0].startswith("line 1: ") and "checksum" in lines[0].lower()
    assert lines[1].startswith("line 3: ")
    assert lines[2] == "2 of 3 lines failed"


def measurement(quantity: str, value: float, unit: str) -> dict[str, object]:
    return {
        "device_id": "slave-1",
        "time": T,
        "quantity": quantity,
        "value": value,
        "unit": unit,
        "kind": "measurement",
    }


def test_modbus_with_register_map_uses_the_seller_example() -> None:
    stdin = "# XY-MD02 examples\n01 04 02 01 31 79 74\n01 04 04 FF 33 02 22 BA E6\n"
    code, out, err = run(
        "--protocol", "modbus", "--register-map", "xy-md02", "--time", T, stdin=stdin
    )
    assert (code, err) == (0, "")
    assert out == [
        measurement("temperature", 30.5, "Cel"),
        measurement("temperature", -20.5, "Cel"),
        measurement("humidity", 54.6, "%RH"),
    ]


def test_modbus_raw_registers_writes_and_errors() -> None:
    stdin = "\n".join(
        [
            "010402013179 74",  # whitespace anywhere
            "0106010300FF F9B7".replace("F9B7", _crc_hex("0106010300FF")),
            "01 84 02 C2 C1",  # exception: illegal data address
            "01 04 02 01 31 79 75",  # CRC
            "01 04",  # truncated
            "zz",
        ]
    )
    code, out, err = run("--protocol", "modbus", stdin=stdin)
    assert code == 1
    assert out == [
        {"kind": "modbus_registers", "slave": 1, "function": 4, "registers": [305]},
        {"kind": "modbus_write", "slave": 1, "address": 0x0103, "value": 0x00FF},
    ]
    assert err.splitlines() == [
        "line 3: slave 1 function 0x04: illegal data address (0x02)",
        "line 4: CRC mismatch: computed 0x7479, frame carries 0x7579",
        "line 5: RTU frame needs at least 4 bytes, got 2",
        "line 6: not hex: 'zz'",
        "4 of 6 lines failed",
    ]


def _crc_hex(payload: str) -> str:
    from firmware_bridge.modbus import append_crc

    return append_crc(bytes.fromhex(payload))[-2:].hex().upper()


def test_modbus_out_of_range_and_address_option() -> None:
    code, out, err = run(
        "--protocol",
        "modbus",
        "--register-map",
        "xy-md02",
        "--address",
        "2",
        "--time",
        T,
        stdin="01 04 02 02 22 38 49\n01 04 02 03 E9 78 4E\n",
    )
    assert code == 1
    assert out == [
        {
            "device_id": "slave-1",
            "time": T,
            "quantity": "humidity",
            "value": 54.6,
            "unit": "%RH",
            "kind": "measurement",
        }
    ]
    assert err.splitlines() == [
        "line 2: humidity = 100.1 is outside the valid range [0, 100]",
        "1 of 2 lines failed",
    ]  # fmt: skip


def test_bad_options_are_usage_errors() -> None:
    result = CliRunner().invoke(decode_command, ["--protocol", "modbus", "--register-map", "nope"])
    assert result.exit_code == 2
    assert "nope: no such profile" in result.stderr
    result = CliRunner().invoke(decode_command, ["--protocol", "epc", "--register-map", "xy-md02"])
    assert result.exit_code == 2 and "only for --protocol modbus" in result.stderr
    result = CliRunner().invoke(decode_command, ["--protocol", "epc", "--time", "noon"])
    assert result.exit_code == 2 and "--time" in result.stderr  # fmt: skip


def test_epc_lines_from_a_file(tmp_path: Path) -> None:
    source = tmp_path / "epcs.txt"
    source.write_text(f"{SGTIN}\n3034\n")
    code, out, err = run("--protocol", "epc", str(source))
    assert code == 1
    assert out == [
        {
            "kind": "sgtin",
            "scheme": "sgtin-96",
            "raw_hex": SGTIN,
            "filter": 1,
            "partition": 5,
            "company_prefix": "0614141",
            "reference": "812345",
            "serial": "6789",
            "pure_uri": "urn:epc:id:sgtin:0614141.812345.6789",
            "tag_uri": "urn:epc:tag:sgtin-96:1.0614141.812345.6789",
            "gtin": "80614141123458",
            "sscc": None,
            "gln": None,
            "reason": None,
        }
    ]
    assert err.splitlines() == [
        "line 2: sgtin-96 needs 24 hex digits, got 4: 3034",
        "1 of 2 lines failed",
    ]


def test_rfid_frames_to_tag_reads() -> None:
    epc = bytes.fromhex(SGTIN)
    report = TagReport(antenna=2, frequency_point=5, pc=pc_for_epc(epc), epc=epc, rssi_dbm=-60)
    end = InventoryEnd(antenna=2, read_rate=40, total_read=1)
    stdin = f"{encode_response(report).hex(' ')}\n{encode_response(end).hex()}\nA0 03 01\n"
    code, out, err = run("--protocol", "rfid", "--device-id", "dock-1", "--time", T, stdin=stdin)
    assert code == 1
    assert out == [
        {
            "reader_id": "dock-1",
            "antenna": 2,
            "epc_hex": SGTIN,
            "time": T,
            "rssi_dbm": -60.0,
            "epc_uri": "urn:epc:id:sgtin:0614141.812345.6789",
            "kind": "tag_read",
        },
        {"kind": "inventory_end", "antenna": 2, "read_rate": 40, "total_read": 1, "address": 255},
    ]
    assert err.splitlines()[0].startswith("line 3: ")


DECODERS: list[LineDecoder] = [
    NmeaDecoder("gps", lambda: parse_time(T)),
    ModbusDecoder(None, None, None, lambda: parse_time(T)),
    EpcDecoder(),
    RfidDecoder("reader", lambda: parse_time(T)),
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40).map(bytes.hex), st.text(max_size=60)), max_size=8))
def test_random_lines_never_crash_a_decoder(lines: list[str]) -> None:
    for decoder in DECODERS:
        failures: list[int] = []
        result = decode_lines(decoder, lines, lambda item: None, lambda n, e: failures.append(n))  # noqa: B023
        assert result.failed == len(failures)
        assert result.lines >= result.failed


def test_real_subprocess_reads_stdin_and_sets_exit_status() -> None:
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "retailedge", "decode", "--protocol", "epc", "-"]
    done = subprocess.run(
        command, cwd=root, input=f"{SGTIN}\nxyz\n", capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["gtin"] == "80614141123458"
    assert done.stderr.splitlines() == [
        "line 2: EPC must be a non-empty, whole-byte hex string, got 'xyz'",
        "1 of 2 lines failed",
    ]

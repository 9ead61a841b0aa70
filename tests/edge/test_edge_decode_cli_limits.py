"""``retailedge decode`` on hostile JSON input, and the top-level help naming every protocol."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edge.decode_cli import PROTOCOLS, decode_command
from retailedge.cli import root

RUUVI = json.dumps(
    {
        "address": "CB:B8:33:4C:88:4F",
        "manufacturer_data": {"0x0499": "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"},
    }
)


@pytest.mark.parametrize("protocol", ["ruuvi", "atc", "pvvx", "bthome", "ibeacon"])
def test_deeply_nested_json_is_a_failed_line_not_a_traceback(protocol: str) -> None:
    lines = [
        "[" * 100_000 + "]" * 100_000,
        '{"address": "CB:B8:33:4C:88:4F", "manufacturer_data": {"1177": '
        + "[" * 5000
        + "]" * 5000
        + "}}",
        '{"address": "CB:B8:33:4C:88:4F", "rssi": -1' + "0" * 400 + "}",
    ]
    result = CliRunner().invoke(
        decode_command,
        ["--protocol", protocol, "--time", "2026-01-01T00:00:00Z"],
        input="\n".join(lines) + "\n",
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 1: nested deeper than 16 levels",
        "line 2: nested deeper than 16 levels",
        "line 3: an integer of 401 digits (at most 20)",
        "3 of 3 lines failed",
    ]


def test_a_good_line_after_hostile_ones_is_decoded() -> None:
    result = CliRunner().invoke(
        decode_command,
        ["--protocol", "ruuvi", "--time", "2026-01-01T00:00:00Z"],
        input="[" * 20_000 + "]" * 20_000 + "\n" + RUUVI + "\n",
    )
    assert result.exit_code == 1
    assert [json.loads(line)["quantity"] for line in result.stdout.splitlines()] == [
        "temperature",
        "humidity",
        "pressure",
        "battery_voltage",
    ]
    assert result.stderr.splitlines() == [
        "line 1: nested deeper than 16 levels",
        "1 of 2 lines failed",
    ]


def test_top_level_help_names_every_protocol_of_decode() -> None:
    result = CliRunner().invoke(root, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    decode_line = next(
        line for line in result.stdout.splitlines() if line.strip().startswith("decode")
    )
    assert f"({', '.join(PROTOCOLS)})" in decode_line

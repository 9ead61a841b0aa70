"""The simulated Modbus bus, without a pty: what each kind of probe answers to each request."""

from __future__ import annotations

import pytest

from firmware_bridge.modbus import (
    ExceptionResponse,
    FunctionCode,
    RegistersResponse,
    WriteResponse,
    parse_response,
    read_holding_registers,
    read_input_registers,
    write_single_register,
)
from simulators.modbus_bus import (
    DEFAULT_PROBES,
    Behaviour,
    BusStats,
    ModbusBus,
    ProbeSpec,
    parse_probes,
)

INPUT = FunctionCode.READ_INPUT_REGISTERS
HOLDING = FunctionCode.READ_HOLDING_REGISTERS


@pytest.fixture
def bus() -> ModbusBus:
    return ModbusBus.from_specs(parse_probes(DEFAULT_PROBES), seed=7)


def test_parse_probes() -> None:
    assert parse_probes("1:xy-md02, 3:rs-ws-n01-8:silent") == [
        ProbeSpec(1, "xy-md02", Behaviour.OK),
        ProbeSpec(3, "rs-ws-n01-8", Behaviour.SILENT),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no probes given"),
        ("x:xy-md02", "expected SLAVE:PROFILE"),
        ("0:xy-md02", "slave address must be 1..247"),
        ("1:xy-md02:loud", "behaviour must be one of ok, drift, silent, exception"),
        ("1:xy-md02,1:xy-md02", "slave 1 appears twice"),
    ],
)
def test_parse_probes_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_probes(text)


def test_probes_serve_their_own_register_maps_in_a_cold_room(bus: ModbusBus) -> None:
    reply = bus.handle(read_input_registers(1, 1, 2), 0.0)
    assert reply.frame is not None
    response = parse_response(reply.frame, 1, INPUT, 2)
    assert isinstance(response, RegistersResponse)
    served = {item.field.name: item.value for item in reply.served}
    assert response.registers == (round(served["temperature"] * 10), round(served["humidity"] * 10))
    assert 2.0 <= served["temperature"] <= 4.0
    assert 75.0 <= served["humidity"] <= 95.0
    # The Renke probe keeps humidity first, in holding registers.
    renke = bus.handle(read_holding_registers(2, 0, 2), 0.0)
    assert renke.frame is not None
    humidity, temperature = parse_response(renke.frame, 2, HOLDING, 2).registers  # type: ignore[union-attr]
    assert [(s.field.name, s.value) for s in renke.served] == [
        ("humidity", humidity / 10),
        ("temperature", temperature / 10),
    ]
    assert 20 <= temperature <= 40


def test_climate_varies_slowly_and_the_drifting_probe_leaves_the_band(bus: ModbusBus) -> None:
    def temperature(slave: int, at: float) -> float:
        return next(s.value for s in bus.handle(read_input_registers(slave, 1, 1), at).served)

    assert abs(temperature(1, 60.0) - temperature(1, 0.0)) < 0.5
    assert 2.0 <= temperature(3, 0.0) <= 4.0
    assert temperature(3, 120.0) > 6.0
    # a failed chiller warms to the room around it and stays there, inside the probe's range
    assert 24.0 <= temperature(3, 3_600.0) <= 25.6
    assert abs(temperature(3, 7_200.0) - temperature(3, 3_600.0)) < 1.0


def test_same_seed_same_values_other_seed_other_values() -> None:
    def values(seed: int) -> tuple[float, ...]:
        bus = ModbusBus.from_specs(parse_probes("1:xy-md02"), seed)
        return tuple(s.value for s in bus.handle(read_input_registers(1, 1, 2), 10.0).served)

    assert values(1) == values(1)
    assert values(1) != values(2)


def test_silent_exception_corrupt_and_unaddressed(bus: ModbusBus) -> None:
    assert bus.handle(read_input_registers(4, 1, 2), 0.0).frame is None
    exception = bus.handle(read_holding_registers(5, 0, 2), 0.0).frame
    assert exception is not None
    with pytest.raises(ExceptionResponse) as caught:
        parse_response(exception, 5, HOLDING)
    assert caught.value.code == 0x02
    corrupt = bytearray(read_input_registers(1, 1, 2))
    corrupt[-1] ^= 0xFF
    assert bus.handle(bytes(corrupt), 0.0).frame is None
    assert bus.handle(b"\x01\x04\x00", 0.0).frame is None
    assert bus.handle(read_input_registers(9, 1, 2), 0.0).frame is None
    assert bus.stats == BusStats(
        frames=5, exceptions=1, unanswered=1, bad_frames=2, unaddressed=1, by_slave={4: 1, 5: 1}
    )


def test_reading_unmapped_registers_is_an_illegal_data_address(bus: ModbusBus) -> None:
    for request in (read_input_registers(1, 0, 2), read_holding_registers(1, 0x0001, 1)):
        frame = bus.handle(request, 0.0).frame
        assert frame is not None
        with pytest.raises(ExceptionResponse) as caught:
            parse_response(frame, 1, request[1])
        assert caught.value.code == 0x02


def test_configuration_writes(bus: ModbusBus) -> None:
    write = write_single_register(1, 0x0103, 0xFFF6)  # temperature correction -1.0 degC
    assert bus.handle(write, 0.0).frame == write  # a 06 answer echoes the request
    assert parse_response(write, 1, 6) == WriteResponse(1, 0x0103, 0xFFF6)
    readback = bus.handle(read_holding_registers(1, 0x0101, 4), 0.0).frame
    assert readback is not None
    assert parse_response(readback, 1, HOLDING).registers == (1, 0, 0xFFF6, 0)  # type: ignore[union-attr]
    for request, code in (
        (write_single_register(1, 0x0101, 248), 0x03),
        (write_single_register(1, 0x0103, 0x00FF), 0x03),
        (write_single_register(1, 0x0001, 5), 0x02),
    ):
        frame = bus.handle(request, 0.0).frame
        assert frame is not None
        with pytest.raises(ExceptionResponse) as caught:
            parse_response(frame, 1, 6)
        assert caught.value.code == code
    assert bus.handle(write_single_register(0, 0x0102, 2), 0.0).frame is None  # broadcast
    after = bus.handle(read_holding_registers(1, 0x0102, 1), 0.0).frame
    assert after is not None and parse_response(after, 1, HOLDING).registers == (2,)  # type: ignore[union-attr]

"""The portal reader's logic, driven with explicit times (no I/O)."""

from __future__ import annotations

from firmware_bridge.rfid_r2000 import (
    AntennaMissing,
    AntennaStep,
    Command,
    CommandStatus,
    FastSwitchEnd,
    FastSwitchInventory,
    FirmwareVersion,
    GetFirmwareVersion,
    GetWorkAntenna,
    InventoryEnd,
    RealTimeInventory,
    Request,
    Reset,
    Response,
    SetWorkAntenna,
    TagReport,
    WorkAntenna,
    decode_response,
    encode_request,
)
from firmware_bridge.rfid_r2000_framing import R2000Framer, RfidError, encode_frame
from simulators.rfid_portal import FaultKind, Output, PortalReader
from simulators.rfid_scene import Direction, Scene, TagKind, build_scene

BOTH = FastSwitchInventory((AntennaStep(1), AntennaStep(2)), repeat=20, address=1)
STEP_S = 0.002


def fast_scene(seed: int = 3, passes: int = 3) -> Scene:
    return build_scene(seed, passes, speed_mps=6.0, first_start_s=0.1, gap_s=0.3)


def responses(out: Output) -> list[Response]:
    return [decode_response(frame) for frame in R2000Framer().feed(out.data)]


def ask(reader: PortalReader, request: Request, now_s: float = 0.0) -> list[Response]:
    return responses(reader.receive(encode_request(request), now_s))


def drive(reader: PortalReader, request: Request, until_s: float) -> Output:
    """A host that re-issues ``request`` whenever the previous inventory ends."""
    out = reader.receive(encode_request(request), 0.0)
    now = 0.0
    while now < until_s:
        now += STEP_S
        out.extend(reader.advance(now))
        if reader.due_s is None:
            out.extend(reader.receive(encode_request(request), now))
    return out


def test_scene_is_seeded_with_real_gs1_identities() -> None:
    scene = fast_scene(seed=11, passes=4)
    assert scene == fast_scene(seed=11, passes=4)
    assert scene != fast_scene(seed=12, passes=4)
    for load in scene.passes:
        pallet, *cases = load.tags
        assert pallet.kind is TagKind.PALLET
        assert pallet.epc_uri.startswith("urn:epc:id:sscc:0614141.")
        assert 2 <= len(cases) <= 5
        assert all(c.kind is TagKind.CASE for c in cases)
        assert all(c.epc_uri.startswith("urn:epc:id:sgtin:0614141.") for c in cases)
    ends = [load.end_s for load in scene.passes]
    starts = [load.start_s for load in scene.passes]
    assert all(end < start for end, start in zip(ends, starts[1:], strict=False))


def test_tags_are_seen_first_on_the_side_they_come_from() -> None:
    scene = fast_scene(seed=5, passes=4)
    assert {load.direction for load in scene.passes} == {Direction.IN, Direction.OUT}
    out = drive(PortalReader(scene, seed=5), BOTH, scene.passes[-1].end_s + 0.1)
    reads = [r for r in responses(out) if isinstance(r, TagReport)]
    for load in scene.passes:
        first, last = (1, 2) if load.direction is Direction.IN else (2, 1)
        pallet = load.tags[0].epc_hex
        antennas = [r.antenna for r in reads if r.epc_hex == pallet]
        assert (antennas[0], antennas[-1]) == (first, last), load


def test_read_rate_is_tens_to_hundreds_per_second_while_a_load_passes() -> None:
    scene = fast_scene(seed=2, passes=1)
    load = scene.passes[0]
    out = drive(PortalReader(scene, seed=2), BOTH, load.end_s)
    reads = [e for e in out.events if e["event"] == "read"]
    rate = len(reads) / (load.end_s - load.start_s)
    assert 30 <= rate <= 400, rate
    assert {e["epc_hex"] for e in reads} == {tag.epc_hex for tag in load.tags}


def test_emit_log_matches_the_wire_exactly() -> None:
    scene = fast_scene(seed=8, passes=2)
    out = drive(PortalReader(scene, seed=8), BOTH, scene.passes[-1].end_s)
    reads = [r for r in responses(out) if isinstance(r, TagReport)]
    logged = [e for e in out.events if e["event"] == "read"]
    assert len(reads) > 50
    assert [(r.epc_hex, r.antenna, r.rssi_dbm) for r in reads] == [
        (e["epc_hex"], e["antenna"], e["rssi_dbm"]) for e in logged
    ]
    assert all(-98 <= r.rssi_dbm <= -31 for r in reads)


def test_same_seed_same_bytes() -> None:
    scene = fast_scene()
    first = drive(PortalReader(scene, seed=1), BOTH, 1.0)
    again = drive(PortalReader(scene, seed=1), BOTH, 1.0)
    other = drive(PortalReader(scene, seed=2), BOTH, 1.0)
    assert first.data == again.data
    assert first.data != other.data


def test_configuration_commands() -> None:
    reader = PortalReader(fast_scene(), address=1)
    assert ask(reader, GetFirmwareVersion(1)) == [FirmwareVersion(3, 7, 1)]
    assert ask(reader, SetWorkAntenna(2, 0xFF)) == [
        CommandStatus(Command.SET_WORK_ANTENNA, 0x10, 1)
    ]
    assert ask(reader, GetWorkAntenna(1)) == [WorkAntenna(2, 1)]
    assert ask(reader, GetWorkAntenna(7)) == []
    assert reader.stats.other_address == 1
    # Reset answers nothing and restores antenna 1.
    assert ask(reader, Reset(1)) == []
    assert ask(reader, GetWorkAntenna(1)) == [WorkAntenna(1, 1)]


def test_bad_and_unknown_commands_get_error_codes() -> None:
    reader = PortalReader(fast_scene(), address=1)
    bad_antenna = encode_frame(1, Command.SET_WORK_ANTENNA, b"\x09")
    unknown = encode_frame(1, 0x76, b"\x1e")
    assert responses(reader.receive(bad_antenna + unknown, 0.0)) == [
        CommandStatus(0x74, 0x41, 1),
        CommandStatus(0x76, 0x11, 1),
    ]
    assert reader.stats.rejected_commands == 2


def test_real_time_inventory_on_a_missing_antenna_fails() -> None:
    reader = PortalReader(fast_scene(), address=1)
    ask(reader, SetWorkAntenna(3, 1))
    assert ask(reader, RealTimeInventory(1, 1)) == [CommandStatus(0x89, 0x22, 1)]
    assert reader.due_s is None


def test_real_time_inventory_ends_with_rate_and_total() -> None:
    scene = fast_scene(seed=4, passes=1)
    reader = PortalReader(scene, seed=4, address=1)
    load = scene.passes[0]
    now = load.crossing_s
    out = reader.receive(encode_request(RealTimeInventory(5, 1)), now)
    while reader.due_s is not None:
        now = reader.due_s
        out.extend(reader.advance(now))
    *reads, end = responses(out)
    assert all(isinstance(r, TagReport) and r.antenna == 1 for r in reads)
    elapsed = now - load.crossing_s
    assert end == InventoryEnd(1, round(len(reads) / elapsed), len(reads), 1)
    assert reader.stats.rounds == 5


def test_fast_switch_reports_missing_antennas_and_its_duration() -> None:
    reader = PortalReader(Scene(()), address=1)
    request = FastSwitchInventory((AntennaStep(1), AntennaStep(3)), 0, 2, 1)
    out = reader.receive(encode_request(request), 0.0)
    while reader.due_s is not None:
        out.extend(reader.advance(reader.due_s))
    assert responses(out) == [
        AntennaMissing(3, 0x22, 1),
        AntennaMissing(3, 0x22, 1),
        FastSwitchEnd(0, 30, 1),
    ]


def test_reset_aborts_an_inventory() -> None:
    reader = PortalReader(fast_scene(), address=1)
    ask(reader, RealTimeInventory(200, 1))
    assert reader.due_s is not None
    ask(reader, Reset(1), 0.001)
    assert reader.due_s is None
    assert reader.advance(10.0) == Output()


def test_faults_are_counted_and_never_become_reads() -> None:
    scene = fast_scene(seed=9, passes=2)
    reader = PortalReader(scene, seed=9, fault_probability=0.2)
    out = drive(reader, BOTH, scene.passes[-1].end_s)
    framer = R2000Framer()
    reads, undecodable = [], 0
    for frame in framer.feed(out.data):
        try:
            response = decode_response(frame)
        except RfidError:
            undecodable += 1
            continue
        if isinstance(response, TagReport):
            reads.append((response.epc_hex, response.antenna, response.rssi_dbm))
    logged = [
        (e["epc_hex"], e["antenna"], e["rssi_dbm"]) for e in out.events if e["event"] == "read"
    ]
    faults = [e for e in out.events if e["event"] == "fault"]
    assert set(reader.stats.faults) == set(FaultKind)
    assert len(faults) == sum(reader.stats.faults.values())
    # Every decoded read was really sent, in order. A truncated frame whose 8-bit checksum
    # happens to match swallows the next frame (then fails to decode): only that read is lost.
    remaining = iter(logged)
    assert all(read in remaining for read in reads)
    assert len(logged) - len(reads) <= undecodable
    assert len(reads) > 100
    assert framer.stats.bad_checksum + framer.stats.bad_length > 0
    assert framer.stats.noise_bytes > 0

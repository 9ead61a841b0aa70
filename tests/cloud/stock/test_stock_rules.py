"""Pure stock rules: deltas, fingerprints, GS1 code kinds, alarm subjects, case packs."""

from __future__ import annotations

import pytest

from cloud.stock_rules import (
    CodeError,
    CodeKind,
    Delta,
    Line,
    MovementKind,
    StockCode,
    alarm_subject_names,
    code_from_epc,
    delta_for,
    fingerprint,
    opens_hold,
    parse_stock_code,
    take_oldest_first,
    units,
)
from firmware_bridge.epc_encode import encode_grai96
from tests.cloud.stock.stock_helpers import PALLET_SSCC, pallet_epc, water_epc

WATER_GTIN = "06901234500011"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (MovementKind.RECEIVE, Delta(on_hand=3)),
        (MovementKind.PUT_AWAY, Delta()),
        (MovementKind.PICK, Delta()),
        (MovementKind.PACK, Delta()),
        (MovementKind.SHIP, Delta(on_hand=-3)),
        (MovementKind.POS_SALE, Delta(on_hand=-3)),
        (MovementKind.POS_RETURN, Delta(on_hand=3)),
        (MovementKind.TRANSFER_OUT, Delta(on_hand=-3)),
        (MovementKind.TRANSFER_IN, Delta(on_hand=3)),
        (MovementKind.RFID_IN, Delta(on_hand=3)),
        (MovementKind.RFID_OUT, Delta(on_hand=-3)),
        (MovementKind.RFID_OUT_MATCHED, Delta()),
        (MovementKind.RESERVE, Delta(reserved=3)),
        (MovementKind.RELEASE, Delta(reserved=-3)),
        (MovementKind.CONSUME, Delta(on_hand=-3, reserved=-3)),
        (MovementKind.HOLD, Delta(on_hold=3)),
        (MovementKind.UNHOLD, Delta(on_hold=-3)),
        (MovementKind.WRITE_OFF, Delta(on_hand=-3, on_hold=-3)),
    ],
)
def test_delta_of_three_units(kind: MovementKind, expected: Delta) -> None:
    assert delta_for(kind, 3) == expected


@pytest.mark.parametrize(
    ("quantity", "open_quantities", "taken"),
    [
        (3, [], []),
        (3, [1, 1, 1, 1], [1, 1, 1, 0]),
        (3, [2, 5], [2, 1]),
        (3, [0, 24], [0, 3]),
        (30, [24, 2], [24, 2]),
        (0, [4], [0]),
    ],
)
def test_take_oldest_first(quantity: int, open_quantities: list[int], taken: list[int]) -> None:
    assert take_oldest_first(quantity, open_quantities) == taken


def test_take_oldest_first_refuses_negative_quantities() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        take_oldest_first(-1, [1])
    with pytest.raises(ValueError, match="must not be negative"):
        take_oldest_first(1, [-1])


def test_count_adjust_has_no_fixed_delta_and_quantities_are_not_negative() -> None:
    with pytest.raises(ValueError, match="computed from the balance"):
        delta_for(MovementKind.COUNT_ADJUST, 1)
    with pytest.raises(ValueError, match="must not be negative"):
        delta_for(MovementKind.RECEIVE, -1)


def test_available_of_a_delta() -> None:
    assert Delta(on_hand=-2, on_hold=-2).available == 0
    assert Delta(on_hold=5).available == -5
    assert Delta(on_hand=4, reserved=1).available == 3


def test_fingerprint_is_canonical() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert len(fingerprint({})) == 64


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("6901234500011", StockCode(CodeKind.GTIN, WATER_GTIN)),
        ("06901234500011", StockCode(CodeKind.GTIN, WATER_GTIN)),
        ("(01)06901234500011", StockCode(CodeKind.GTIN, WATER_GTIN)),
        ("(01)06901234500011(37)12", StockCode(CodeKind.GTIN, WATER_GTIN)),
        ("]C10106901234500011", StockCode(CodeKind.GTIN, WATER_GTIN)),
        (PALLET_SSCC, StockCode(CodeKind.SSCC, PALLET_SSCC)),
        (f"(00){PALLET_SSCC}", StockCode(CodeKind.SSCC, PALLET_SSCC)),
        ("urn:epc:id:sgtin:6901234.050001.77", StockCode(CodeKind.GTIN, WATER_GTIN)),
        ("urn:epc:tag:sgtin-96:1.6901234.050001.77", StockCode(CodeKind.GTIN, WATER_GTIN)),
        ("urn:epc:id:sscc:6901234.0000000042", StockCode(CodeKind.SSCC, PALLET_SSCC)),
        (water_epc(77), StockCode(CodeKind.GTIN, WATER_GTIN, epc=water_epc(77))),
        (pallet_epc().lower(), StockCode(CodeKind.SSCC, PALLET_SSCC, epc=pallet_epc())),
    ],
)
def test_code_kinds(code: str, expected: StockCode) -> None:
    assert parse_stock_code(code) == expected


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("6901234500012", "check digit"),
        ("hello", "not a GTIN, SSCC"),
        ("urn:epc:id:grai:6901234.00001.5", "not an SGTIN or SSCC"),
        ("urn:epc:id:sgtin:6901234.05.77", "need 13 digits"),
        (encode_grai96("6901234", "00001", 5), "identifies no stock"),
        ("(10)LOT42", "neither a GTIN"),
    ],
)
def test_codes_that_name_no_stock(code: str, message: str) -> None:
    with pytest.raises(CodeError, match=message):
        parse_stock_code(code)


def test_epc_with_wrong_length_is_a_code_error() -> None:
    with pytest.raises(CodeError, match="EPC"):
        code_from_epc(water_epc(1)[:-2])


def test_alarm_subject_names_most_specific_first() -> None:
    evidence = {"zone": "chiller", "device": "fridge-1", "band": {}}
    assert alarm_subject_names("chiller/fridge-1", evidence) == (
        "chiller/fridge-1",
        "chiller",
        "fridge-1",
    )
    assert alarm_subject_names("freezer-1", {}) == ("freezer-1",)


def test_only_a_raised_excursion_opens_a_hold() -> None:
    assert opens_hold("coldchain.excursion", ended_at_set=False)
    assert not opens_hold("coldchain.excursion", ended_at_set=True)
    assert not opens_hold("coldchain.silence", ended_at_set=False)
    assert not opens_hold("cold_chain", ended_at_set=False)


def test_units_turn_cases_into_units_and_merge() -> None:
    packs = {"case": ("unit", 24)}
    lines = [Line("case", 2), Line("milk", 1), Line("unit", 3), Line("milk", 2)]
    assert units(lines, packs=packs) == [Line("unit", 51), Line("milk", 3)]

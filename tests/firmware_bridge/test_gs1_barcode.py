"""GS1 barcodes: examples after the GS1 General Specifications, typed errors, round trips."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.gs1 import with_check_digit
from firmware_bridge.gs1_barcode import (
    AI_TABLE,
    GS,
    Barcode,
    BarcodeError,
    Element,
    Symbology,
    element,
    encode_element_string,
    parse_barcode,
    to_bracketed,
)

GTIN = Element("01", "09506000134352", "09506000134352")


@pytest.mark.parametrize(
    ("text", "gtin"),
    [
        ("4006381333931", "04006381333931"),  # EAN-13
        ("036000291452", "00036000291452"),  # UPC-A
        ("96385074", "00000096385074"),  # EAN-8
        ("10614141000415", "10614141000415"),  # GTIN-14 (ITF-14)
        (" 9501101530003\r\n", "09501101530003"),  # scanner suffix
    ],
)
def test_bare_gtins_normalize_to_gtin14(text: str, gtin: str) -> None:
    assert parse_barcode(text) == Barcode(Symbology.EAN_UPC, (Element("01", gtin, gtin),))


def test_bare_sscc() -> None:
    code = "106141412345678908"
    assert parse_barcode(code) == Barcode(Symbology.EAN_UPC, (Element("00", code, code),))
    assert parse_barcode(code).sscc == code


def test_bracketed_human_form() -> None:
    barcode = parse_barcode("(01)09506000134352(17)201225(10)ABC123")
    assert barcode == Barcode(
        Symbology.BRACKETED,
        (GTIN, Element("17", "201225", date(2020, 12, 25)), Element("10", "ABC123", "ABC123")),
    )
    assert barcode.gtin == "09506000134352"
    assert barcode.sscc is None and barcode.quantity is None


@pytest.mark.parametrize("prefix", ["]C1", "]d2", "]Q3"])
def test_element_string_with_symbology_id_gs_and_all_value_types(prefix: str) -> None:
    text = (
        f"{prefix}0109506000134352"
        f"1524020010LOT-7{GS}21S/N 1"  # space is not in CSET 82
    )
    with pytest.raises(BarcodeError) as info:
        parse_barcode(text)
    assert (info.value.ai, info.value.problem) == (
        "21",
        "invalid character in 'S/N 1' (GS1 character set 82)",
    )
    text = (
        f"{prefix}0109506000134352152402001117022810LOT-7{GS}3103001250"
        f"37120{GS}400PO-42{GS}4100614141000005{GS}8004ASSET9"
    )
    barcode = parse_barcode(text)
    assert barcode == Barcode(
        Symbology(prefix),
        (
            GTIN,
            Element("15", "240200", date(2024, 2, 29)),  # DD=00: end of month, leap year
            Element("11", "170228", date(2017, 2, 28)),
            Element("10", "LOT-7", "LOT-7"),
            Element("3103", "001250", Decimal("1.250")),
            Element("37", "120", 120),
            Element("400", "PO-42", "PO-42"),
            Element("410", "0614141000005", "0614141000005"),
            Element("8004", "ASSET9", "ASSET9"),
        ),
    )
    assert (barcode.quantity, barcode.net_weight_kg) == (120, Decimal("1.250"))


def test_sscc_element_string_with_a_weight_that_is_no_count() -> None:
    barcode = parse_barcode("]C10010614141234567890831020015020200614141123452")
    assert barcode == Barcode(
        Symbology.GS1_128,
        (
            Element("00", "106141412345678908", "106141412345678908"),
            Element("3102", "001502", Decimal("15.02")),
            Element("02", "00614141123452", "00614141123452"),
        ),
    )
    assert (barcode.sscc, barcode.gtin, barcode.quantity, barcode.net_weight_kg) == (
        "106141412345678908",
        None,
        None,
        Decimal("15.02"),
    )


@pytest.mark.parametrize(
    ("text", "quantity", "weight"),
    [
        # A variable-measure item weighed at the scale: one item of 1.5 kg, not 1500 of them.
        ("(01)09506000134352(3103)001500", None, Decimal("1.500")),
        ("(01)09506000134352(3100)000002", None, Decimal("2")),
        ("(01)09506000134352(3105)123456", None, Decimal("1.23456")),
        ("(01)09506000134352(30)4(3102)000750", 4, Decimal("7.50")),
        ("(02)09506000134352(37)12(3101)001234", 12, Decimal("123.4")),
        ("(01)09506000134352(30)4", 4, None),
        ("(01)09506000134352", None, None),
    ],
)
def test_counts_come_from_ai_37_or_30_and_weights_from_310n(
    text: str, quantity: int | None, weight: Decimal | None
) -> None:
    barcode = parse_barcode(text)
    assert (barcode.quantity, barcode.net_weight_kg) == (quantity, weight)


def test_element_string_without_symbology_identifier() -> None:
    assert parse_barcode(f"0109506000134352{GS}") == Barcode(Symbology.GS1_128, (GTIN,))
    assert parse_barcode("010950600013435237250") == Barcode(
        Symbology.GS1_128, (GTIN, Element("37", "250", 250))
    )


@pytest.mark.parametrize(
    ("text", "ai", "problem"),
    [
        ("(01)09506000134353", "01", "check digit of 09506000134353 is 3, expected 2"),
        ("]C100106141412345678907", "00", "check digit of 106141412345678907 is 7, expected 8"),
        ("(414)0614141000006", "414", "check digit of 0614141000006 is 6, expected 5"),
        ("(17)201325", "17", "month 13 out of range in date 201325"),
        ("(17)210229", "17", "day 29 out of range in date 210229"),
        ("(01)0950600013435", "01", "needs exactly 14 characters, got 13"),
        ("(10)" + "A" * 21, "10", "needs 1 to 20 characters, got 21"),
        ("(37)12A", "37", "invalid character in '12A' (digits only)"),
        ("(99)ABC", "99", "unknown or unsupported application identifier"),
        ("]C1010950600013435", "01", "truncated: needs 14 characters"),
        (f"]C110ABC{GS}", "10", "GS at end of data"),
    ],
)
def test_errors_name_the_ai_and_problem(text: str, ai: str, problem: str) -> None:
    with pytest.raises(BarcodeError) as info:
        parse_barcode(text)
    assert (info.value.ai, info.value.problem, str(info.value)) == (
        ai,
        problem,
        f"AI ({ai}): {problem}",
    )


@pytest.mark.parametrize(
    "text",
    ["", "4006381333932", "12345", "hello", "(01", "(01)09506000134352junk(", "]C1", "]C1990"],
)
def test_not_a_barcode(text: str) -> None:
    with pytest.raises(BarcodeError):
        parse_barcode(text)


def test_encoders_put_gs_only_between_variable_fields() -> None:
    elements = (
        Element("10", "L1", "L1"),
        GTIN,
        Element("21", "X", "X"),
        Element("37", "5", 5),
    )
    assert encode_element_string(elements) == f"]C110L1{GS}010950600013435221X{GS}375"
    assert to_bracketed(elements) == "(10)L1(01)09506000134352(21)X(37)5"


_CSET82 = "!\"%&'*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


@st.composite
def elements(draw: st.DrawFn) -> Element:
    ai = draw(st.sampled_from(sorted(AI_TABLE)))
    spec = AI_TABLE[ai]
    if spec.format.value == "date":
        day = draw(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
        return element(ai, day.strftime("%y%m%d"))
    size = spec.length if spec.fixed else draw(st.integers(1, spec.length))
    alphabet = _CSET82 if spec.format.value == "alnum" else "0123456789"
    if spec.check.value == "key":
        data = with_check_digit(draw(st.text("0123456789", min_size=size - 1, max_size=size - 1)))
    else:
        data = draw(st.text(alphabet, min_size=size, max_size=size))
    return element(ai, data)


@given(st.lists(elements(), min_size=1, max_size=6), st.sampled_from(["]C1", "]d2", "]Q3"]))
def test_element_string_round_trip(items: list[Element], prefix: str) -> None:
    barcode = parse_barcode(encode_element_string(items, prefix))
    assert barcode == Barcode(Symbology(prefix), tuple(items))


@given(st.lists(elements(), min_size=1, max_size=6))
def test_bracketed_round_trip(items: list[Element]) -> None:
    assert parse_barcode(to_bracketed(items)) == Barcode(Symbology.BRACKETED, tuple(items))


@given(st.text(max_size=60))
def test_any_text_raises_only_barcode_error(text: str) -> None:
    with contextlib.suppress(BarcodeError):
        parse_barcode(text)


@given(st.text(alphabet="0123456789()]Cd1Q3\x1dABC", max_size=60))
def test_gs1_looking_text_raises_only_barcode_error(text: str) -> None:
    with contextlib.suppress(BarcodeError):
        parse_barcode(text)

"""Pure catalogue logic: row validation, CSV layouts, opening hours, masking, the cipher."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from cloud.catalog_files import FileRejected, parse_file
from cloud.catalog_hours import parse_opening_hours
from cloud.catalog_schemas import ManifestIn, SkuIn
from cloud.pii import KEY_FILE_NAME, PiiCipher, PiiDecryptError, PiiKeyError, pii_cipher
from cloud.pii_mask import mask_address, mask_name, mask_phone, may_reveal
from cloud.services.catalog_rows import Problem, validate_rows
from cloud.settings import Settings
from firmware_bridge.gs1 import with_check_digit
from tests.cloud.domain_seed import SKUS, gtin13

SKU = {k: v for k, v in SKUS[0].items() if k != "id"}


def problems_of(model: type[SkuIn] | type[ManifestIn], *items: dict[str, object]) -> list[Problem]:
    return validate_rows(model, enumerate(items, start=1))[1]


def test_gtin_validation_names_the_field_and_normalises() -> None:
    wrong = gtin13(1)[:-1] + str((int(gtin13(1)[-1]) + 3) % 10)
    assert problems_of(SkuIn, {"id": "a", **SKU, "gtin": wrong}) == [
        Problem(1, "gtin", f"check digit is {wrong[-1]}, expected {gtin13(1)[-1]}")
    ]
    assert problems_of(SkuIn, {"id": "a", **SKU, "gtin": "12345"}) == [
        Problem(1, "gtin", "a GTIN has 8, 12, 13 or 14 digits, not 5")
    ]
    assert problems_of(SkuIn, {"id": "a", **SKU, "gtin": "69012345000x1"}) == [
        Problem(1, "gtin", "a GTIN has only digits")
    ]
    upc = with_check_digit("03600029145")  # GTIN-12
    rows, problems = validate_rows(SkuIn, [(7, {"id": "a", **SKU, "gtin": upc})])
    assert problems == [] and rows[0].item.gtin == "00" + upc and rows[0].line == 7


def test_pack_rules_and_manifest_sscc() -> None:
    assert problems_of(SkuIn, {"id": "a", **SKU, "pack_quantity": 6}) == [
        Problem(1, "pack_quantity", "must be 1 unless pack_of names the unit SKU")
    ]
    assert problems_of(SkuIn, {"id": "a", **SKU, "pack_of": "a", "pack_quantity": 6}) == [
        Problem(1, "pack_of", "a SKU cannot be a pack of itself")
    ]
    sscc = with_check_digit("36901234500000001")
    bad = sscc[:-1] + str((int(sscc[-1]) + 1) % 10)
    line = {"sku_id": "a", "quantity": 1}
    assert problems_of(ManifestIn, {"sscc": bad, "lines": [line]}) == [
        Problem(1, "sscc", f"check digit is {bad[-1]}, expected {sscc[-1]}")
    ]
    assert problems_of(ManifestIn, {"sscc": sscc, "lines": [line, line]}) == [
        Problem(1, "lines", "sku_id 'a' is listed twice")
    ]


def test_csv_line_numbers_header_and_grouping() -> None:
    text = (
        "id,tier,tags,name,phone,address_label,address,lat,lon\n"
        'm1,vip,a|b,Ann,123456,home,"Road 1,\nFlat 2",31.1,121.1\n'
        "m1,vip,a|b,Ann,123456,work,Office,31.2,121.2\n"
        "m2,standard,,Bo,654321,,,,\n"
        "m1,gold,a|b,Ann,123456,gym,Gym,31.3,121.3\n"
    )
    rows, problems = parse_file("members", text.encode(), "csv")
    assert problems == [Problem(6, "tier", "member 'm1' is on line 2 with another tier")]
    assert rows == [
        (
            2,
            {
                "id": "m1",
                "tier": "vip",
                "tags": ["a", "b"],
                "name": "Ann",
                "phone": "123456",
                "addresses": [
                    {"label": "home", "address": "Road 1,\nFlat 2", "lat": "31.1", "lon": "121.1"},
                    {"label": "work", "address": "Office", "lat": "31.2", "lon": "121.2"},
                    {"label": "gym", "address": "Gym", "lat": "31.3", "lon": "121.3"},
                ],
            },
        ),
        (
            5,
            {
                "id": "m2",
                "tier": "standard",
                "tags": [],
                "name": "Bo",
                "phone": "654321",
                "addresses": [],
            },
        ),
    ]
    manifests, _ = parse_file("manifests", b"sscc,sku_id,quantity\nS1,a,2\nS2,b,3\nS1,c,4\n", "csv")
    assert manifests == [
        (
            2,
            {
                "sscc": "S1",
                "lines": [{"sku_id": "a", "quantity": "2"}, {"sku_id": "c", "quantity": "4"}],
            },
        ),
        (3, {"sscc": "S2", "lines": [{"sku_id": "b", "quantity": "3"}]}),
    ]
    with pytest.raises(FileRejected) as rejected:
        parse_file("skus", b"id,gtin,name,colour\n", "csv")
    assert Problem(1, "colour", rejected.value.problems[-1].message) in rejected.value.problems
    assert Problem(1, "category", "missing column") in rejected.value.problems
    with pytest.raises(FileRejected) as broken:
        parse_file("skus", b'[{"id": 1},', "json")
    assert broken.value.problems[0].field == "file"
    jsonl, _ = parse_file("channels", b'{"id": "a"}\n\n{"id": "b"}\n', "jsonl")
    assert jsonl == [(1, {"id": "a"}), (3, {"id": "b"})]


def test_opening_hours() -> None:
    assert parse_opening_hours("mon-fri 08:00-22:00; sat 09:00-12:00,14:00-24:00") == {
        **{day: [("08:00", "22:00")] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [("09:00", "12:00"), ("14:00", "24:00")],
    }
    assert parse_opening_hours("") is None and parse_opening_hours("24h") is None
    assert parse_opening_hours({"sun": [["10:00", "16:00"]]}) == {"sun": [("10:00", "16:00")]}
    for bad, message in (
        ("mon 22:00-08:00", "mon: 22:00-08:00 closes before it opens"),
        ("fri-mon 08:00-09:00", "day range 'fri-mon' runs backwards"),
        ("mon 08:00-12:00; mon 13:00-14:00", "day 'mon' is given twice"),
        ("mon 8:00-12:00", "time '8:00': use HH:MM between 00:00 and 24:00"),
        ("mon 08:00-12:00,11:00-13:00", "mon: spans overlap or are out of order"),
        ({"funday": [["08:00", "09:00"]]}, "unknown day 'funday': use mon, tue, ... sun"),
    ):
        with pytest.raises(ValueError) as error:
            parse_opening_hours(bad)
        assert str(error.value) == message


def test_masks() -> None:
    assert mask_name("王小明") == "王*" and mask_name("Ann Lee") == "A*"
    assert mask_phone("13800138001") == "*******8001"
    assert mask_phone("+86 138-0013-8001") == "*********8001"
    assert mask_phone("123") == "****"
    assert mask_address("上海市浦东新区张江路500弄3号602室") == "上海市浦东新区***"
    assert mask_address("浦东新区张江路500弄") == "浦东新区***"
    assert mask_address("58 Century Ave, Pudong New District, Shanghai") == (
        "***, Pudong New District, Shanghai"
    )
    assert mask_address("Somewhere 12") == "***"
    assert mask_address("上海市浦东新区") == "***"  # nothing below the district to hide it in
    assert [may_reveal(r) for r in ("admin", "operator", "warehouse", "channel", "gateway")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_rotation_keeps_data_readable_after_the_old_key_is_removed() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = PiiCipher([old]).encrypt("李娜")
    assert token != "李娜" and PiiCipher([old]).decrypt(token) == "李娜"
    rotated = PiiCipher([new, old]).rotate(token)
    assert PiiCipher([new]).decrypt(rotated) == "李娜"
    with pytest.raises(PiiDecryptError):
        PiiCipher([new]).decrypt(token)
    with pytest.raises(PiiKeyError):
        PiiCipher(["not-a-key"])


def test_key_file_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = pii_cipher(Settings(data_dir=data_dir))
    key_file = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    token = first.encrypt("x")
    assert pii_cipher(Settings(data_dir=data_dir)).decrypt(token) == "x"
    configured = Fernet.generate_key().decode()
    from_env = pii_cipher(
        Settings(data_dir=data_dir, pii_keys=SecretStr(f"{configured}, {key_file.read_text()}"))
    )
    assert from_env.key_count == 2 and from_env.decrypt(token) == "x"


def test_progress_rates_per_phase_at_most_once_a_second(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cloud.catalog_cli import Progress

    ticks = iter([0.0, 2.0, 2.5, 3.0, 4.5, 6.0])
    progress = Progress("skus from skus.csv", clock=lambda: next(ticks))
    progress("validated", 1000, 1000)  # t=2: 1,000 rows in 2 s
    progress("written", 500, 1000)  # t=2.5: printed, first of its phase
    progress("written", 600, 1000)  # t=3: within a second of the last line, skipped
    progress("written", 900, 1000)  # t=4.5
    progress("written", 1000, 1000)  # t=6: the last one always prints
    assert capsys.readouterr().err.splitlines() == [
        "skus from skus.csv: validated [####################] 1,000/1,000 rows (500 rows/s)",
        "skus from skus.csv: written [##########----------] 500/1,000 rows (1,000 rows/s)",
        "skus from skus.csv: written [##################--] 900/1,000 rows (360 rows/s)",
        "skus from skus.csv: written [####################] 1,000/1,000 rows (250 rows/s)",
    ]


def test_if_none_match() -> None:
    from cloud.services.catalog_snapshot import etag_matches

    etag = '"abc"'
    assert etag_matches('"abc"', etag) and etag_matches('"x", W/"abc"', etag)
    assert etag_matches("*", etag)
    assert not etag_matches(None, etag) and not etag_matches('"abd"', etag)

"""The demo's business plan and report (pure): scans and the units they book, orders near the
node in each channel's shape, stock figures, and the checks that fail a run; the tracking link
and the console login it prints and keeps."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloud.console.passwords import check_strength
from firmware_bridge.gs1_barcode import parse_barcode
from firmware_bridge.records import ScanOperation
from retailedge.demo import DemoSummary
from retailedge.demo_console import CONSOLE_FILE, ConsoleLogin, new_password, stored_login
from retailedge.demo_plan import (
    PlanError,
    order_plan,
    planned_units,
    receive_plan,
    received_since,
    stock_figures,
    unit_sku_ids,
)
from retailedge.demo_report import BusinessReport, FailedOrder, TrackingLink
from simulators.geo import haversine_m

SNAPSHOT: dict[str, Any] = {
    "node": {"id": "fw-1", "lat": 31.188, "lon": 121.437},
    "locations": [{"code": "A-01-01", "zone_id": "z1"}, {"code": "DOCK-1", "zone_id": None}],
    "skus": [
        {"id": "water", "gtin": "06901234500011", "pack_of": None, "pack_quantity": 1},
        {"id": "water-x24", "gtin": "16901234500018", "pack_of": "water", "pack_quantity": 24},
        {"id": "milk", "gtin": "06901234500080", "pack_of": None, "pack_quantity": 1},
    ],
}
MANIFEST = {"sscc": "369012345000000012", "lines": [
    {"sku_id": "water-x24", "quantity": 40}, {"sku_id": "milk", "quantity": 6}]}  # fmt: skip


def test_receive_plan_books_pallet_cases_and_units_at_the_dock() -> None:
    plan = receive_plan(SNAPSHOT, [MANIFEST], random.Random(3))
    assert [p.step.operation for p in plan] == [ScanOperation.RECEIVE] * 4
    assert {p.step.location for p in plan} == {"DOCK-1"}
    pallet, cases, *loose = plan
    assert (pallet.step.code, pallet.step.quantity) == ("(00)369012345000000012", 1)
    assert pallet.units == {"water": 960, "milk": 6}
    assert (cases.step.code, cases.step.quantity) == ("(01)16901234500018(37)3", 3)
    assert cases.units == {"water": 72}
    # Loose units are scanned as the EAN-13 printed on the pack.
    assert [(p.step.code, list(p.units)) for p in loose] == [
        ("6901234500080", ["milk"]),
        ("6901234500011", ["water"]),
    ]
    for scan in loose:
        assert parse_barcode(scan.step.code).gtin is not None
        assert 4 <= scan.step.quantity <= 12
        assert scan.units == {next(iter(scan.units)): scan.step.quantity}
    total = planned_units(plan)
    assert total == {
        "water": 960 + 72 + loose[1].step.quantity,
        "milk": 6 + loose[0].step.quantity,
    }


def test_receive_plan_without_manifests_or_cases() -> None:
    body = {**SNAPSHOT, "skus": [SNAPSHOT["skus"][2]]}
    plan = receive_plan(body, [], random.Random(0))
    assert len(plan) == 1
    assert plan[0].step.code == "6901234500080"


@pytest.mark.parametrize(
    ("body", "manifests", "message"),
    [
        ({**SNAPSHOT, "skus": [SNAPSHOT["skus"][1]]}, [], "no SKU that is not a case"),
        ({**SNAPSHOT, "locations": []}, [], "no locations"),
        (SNAPSHOT, [{"sscc": "369012345000000012", "lines": [{"sku_id": "x", "quantity": 1}]}],
         "SKU 'x' is not in the gateway's catalogue"),
    ],
)  # fmt: skip
def test_receive_plan_names_what_the_catalogue_lacks(
    body: dict[str, Any], manifests: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        receive_plan(body, manifests, random.Random(0))


def test_order_plan_round_robins_channel_shapes_near_the_node() -> None:
    center = (31.188, 121.437)
    plan = order_plan(
        random.Random(1),
        count=7,
        channels=[("app", "app"), ("tmall", "marketplace"), ("meituan", "delivery_platform")],
        sku_ids=unit_sku_ids(SNAPSHOT),
        member_ids=["m-1"],
        center=center,
        run_tag="T1",
        placed_at=datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
    )
    assert [o.channel for o in plan] == ["app", "tmall", "meituan"] * 2 + ["app"]
    assert [o.external_id for o in plan] == [f"DEMO-T1-{n:03d}" for n in range(1, 8)]
    for order in plan:
        payload = order.payload
        if order.channel_kind == "app":
            assert payload["external_id"] == order.external_id
            lat, lon = payload["delivery"]["lat"], payload["delivery"]["lon"]
            skus = {line["sku"] for line in payload["lines"]}
        elif order.channel_kind == "marketplace":
            assert payload["tid"] == order.external_id
            lon, lat = map(float, payload["receiver"]["geo"].split(","))
            skus = {item["outer_sku_id"] for item in payload["items"]}
        else:
            assert payload["order_id"] == order.external_id
            lat, lon = payload["latitude"] / 1e6, payload["longitude"] / 1e6
            skus = {item["app_food_code"] for item in json.loads(payload["detail"])}
        assert haversine_m(center[0], center[1], lat, lon) <= 2_500 + 1
        assert skus and skus <= {"milk", "water"}


def test_order_plan_needs_channels_and_skus() -> None:
    args: dict[str, Any] = {
        "count": 1,
        "member_ids": [],
        "center": (31.0, 121.0),
        "run_tag": "x",
        "placed_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    with pytest.raises(PlanError, match="no active channel"):
        order_plan(random.Random(0), channels=[], sku_ids=["a"], **args)
    with pytest.raises(PlanError, match="no SKU"):
        order_plan(random.Random(0), channels=[("app", "app")], sku_ids=[], **args)


def _level(node: str, sku: str, on_hand: int, reserved: int = 0, on_hold: int = 0) -> Any:
    return {
        "node_id": node,
        "sku_id": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "on_hold": on_hold,
    }


def test_stock_figures_count_oversold_over_every_node() -> None:
    levels = [
        _level("fw-1", "water", 10, reserved=4),
        _level("fw-1", "milk", 3, reserved=2, on_hold=2),
        _level("dc", "water", 0, reserved=1),
    ]
    figures = stock_figures(levels, "fw-1")
    assert figures.on_hand == {"water": 10, "milk": 3}
    assert figures.reserved_total == 7
    assert figures.oversold == 1 + 1
    assert stock_figures(levels[:1], "fw-1").oversold == 0


def test_received_since_keeps_only_gains_and_losses() -> None:
    assert received_since({"a": 5, "b": 1}, {"a": 5, "b": 4, "c": 2}) == {"b": 3, "c": 2}
    assert received_since({"a": 5}, {"a": 3}) == {"a": -2}


def _consistent() -> BusinessReport:
    return BusinessReport(
        node_id="fw-1",
        completed=True,
        scans_sent=3,
        scans_accepted=3,
        units_scanned=100,
        stock_units_received=100,
        orders_placed=3,
        orders_allocated=2,
        failed=[FailedOrder("app", "DEMO-1", "no node can fulfil the basket")],
        units_allocated=5,
        units_reserved=5,
    )


def test_a_consistent_report_has_no_problems_and_prints_its_figures() -> None:
    report = _consistent()
    assert report.problems() == []
    as_json = report.as_json()
    assert as_json["orders_failed"] == 1
    assert as_json["failed_orders"] == [
        {"channel": "app", "external_id": "DEMO-1", "reason": "no node can fulfil the basket"}
    ]
    assert as_json["order_flow"] == "completed"
    text = "\n".join(report.text_lines())
    assert "100 units scanned, 100 received in stock" in text
    assert "allocated 2, failed 1" in text
    assert "failed app DEMO-1: no node can fulfil the basket" in text


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"stock_units_received": 99}, "100 units scanned but 99 received"),
        ({"orders_allocated": 1}, "3 orders placed but 1 allocated + 1 failed"),
        ({"units_reserved": 6}, "5 units allocated but 6 reserved"),
        ({"oversold": 2}, "2 units reserved beyond stock"),
        ({"scans_refused": ["x: 422 unknown_product: ..."]}, "1 scan(s) refused"),
    ],
)
def test_an_inconsistent_report_names_the_problem(change: dict[str, Any], problem: str) -> None:
    report = _consistent()
    for name, value in change.items():
        setattr(report, name, value)
    assert len(report.problems()) == 1
    assert problem in report.problems()[0]


def test_the_tracking_link_is_printed_and_summarised() -> None:
    report = _consistent()
    assert report.as_json()["tracking"] is None
    report.tracking = TrackingLink("ord-1", "meituan", "DEMO-2", "http://127.0.0.1:8800/t/abc")
    assert report.as_json()["tracking"] == {
        "order_id": "ord-1",
        "channel": "meituan",
        "external_id": "DEMO-2",
        "url": "http://127.0.0.1:8800/t/abc",
    }
    assert report.text_lines()[-1] == (
        "Tracking page for order ord-1 (meituan DEMO-2): http://127.0.0.1:8800/t/abc"
    )
    assert report.problems() == []


def test_an_interrupted_flow_is_not_a_failure() -> None:
    report = BusinessReport(node_id="fw-1", scans_sent=2, units_scanned=10)
    assert report.problems() == []
    assert report.as_json()["order_flow"] == "interrupted"
    assert report.text_lines()[-1] == "the order flow was interrupted before it finished"


URL = "http://127.0.0.1:8800/console"


def test_the_console_login_is_printed_and_summarised() -> None:
    login = ConsoleLogin(URL, "demo-operator", "k3Y_9xQ-2mN7pL0a")
    assert login.line() == (
        "Console: http://127.0.0.1:8800/console — user demo-operator, password k3Y_9xQ-2mN7pL0a"
    )
    summary = DemoSummary({}, {}, {}, BusinessReport(node_id="fw-1"), console=login)
    assert summary.as_json()["console"] == {
        "url": URL,
        "user": "demo-operator",
        "password": "k3Y_9xQ-2mN7pL0a",
    }
    assert "console" not in DemoSummary({}, {}, {}, BusinessReport(node_id="fw-1")).as_json()


def test_new_passwords_are_random_and_pass_the_console_rules() -> None:
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        check_strength(password)
        assert len(password) == 16 and password.isprintable() and " " not in password


def test_a_kept_login_is_reused_only_for_the_same_user(tmp_path: Path) -> None:
    path = tmp_path / CONSOLE_FILE
    assert stored_login(path, URL, "demo-operator") is None  # none yet
    path.write_text(json.dumps({"user": "demo-operator", "password": "k3Y_9xQ-2mN7pL0a"}))
    assert stored_login(path, URL, "demo-operator") == ConsoleLogin(
        URL, "demo-operator", "k3Y_9xQ-2mN7pL0a"
    )
    assert stored_login(path, URL, "ops") is None
    for unusable in ("{not json", "[]", json.dumps({"user": "demo-operator", "password": ""})):
        path.write_text(unusable)
        assert stored_login(path, URL, "demo-operator") is None

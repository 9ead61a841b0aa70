"""MQTT scans checked by the local API's rules, the answers' topic and payload, and the
subscriptions that must not hear those answers. Pure: no broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import paho.mqtt.client as paho
import pytest

from edge.catalogue_cache import Catalogue
from edge.mqtt_scan_answers import accepted_answer, check_mqtt_scan, refused_answer
from edge.mqtt_topics import (
    MessageKind,
    PayloadError,
    Topic,
    answer_topic,
    parse_topic,
    peek_msg_id,
    subscriptions,
)
from edge.scan_check import NO_CATALOGUE_WARNING, ScanFieldError, scan_answer
from firmware_bridge.records import Scan, ScanOperation
from tests.edge.downlink_docs import KNOWN_SSCC, MILK_GTIN, SNAPSHOT, YOGURT_GTIN

CATALOGUE = Catalogue.from_snapshot(SNAPSHOT, '"c1"')
AT = datetime(2026, 3, 1, 8, 0, 9, 250_000, tzinfo=UTC)
PREFIX = "retailedge/v1"


def scan(code: str = MILK_GTIN, quantity: int = 3, **fields: str) -> Scan:
    values = {"scanner_id": "hh-3", "operator": "op-12", "location": "a-01-01", **fields}
    return Scan(
        values["scanner_id"],
        values["operator"],
        ScanOperation(values.get("operation", "pick")),
        code,
        quantity,
        values["location"],
        AT,
    )


@pytest.mark.parametrize("site", ["+", "dc-1"])
def test_the_gateway_subscribes_to_scans_but_not_to_its_answers(site: str) -> None:
    filters = subscriptions(PREFIX, site)
    scan_topic = f"{PREFIX}/dc-1/hh-3/scan"
    answer = answer_topic(parse_topic(scan_topic, PREFIX), PREFIX)
    assert answer == f"{PREFIX}/dc-1/hh-3/scan/answer"
    assert [paho.topic_matches_sub(f, scan_topic) for f in filters] == [
        kind is MessageKind.SCAN for kind in MessageKind
    ]
    assert not any(paho.topic_matches_sub(f, answer) for f in filters)
    # Were an answer delivered all the same (a broker bridge), it is no device's message.
    with pytest.raises(PayloadError, match="is not retailedge/v1/<site>/<device>/<kind>"):
        parse_topic(answer, PREFIX)


def test_a_scan_is_stored_as_the_local_api_would_store_it_at_the_scanners_time() -> None:
    checked = check_mqtt_scan(scan(), CATALOGUE)
    assert checked.scan == Scan(
        "hh-3", "op-12", ScanOperation.PICK, f"(01){MILK_GTIN}", 3, "A-01-01", AT
    )
    assert checked.known["catalogue_checked"] is True
    assert checked.known["location_zone"] == "fw-pudong-chilled"
    assert checked.known["product"]["name"] == "Fresh milk 1 L"
    pallet = check_mqtt_scan(scan(f"(00){KNOWN_SSCC}", 1, operation="receive"), CATALOGUE)
    assert pallet.known["pallet"] == {"sscc": KNOWN_SSCC, "lines": None}


@pytest.mark.parametrize(
    ("refused", "code", "message"),
    [
        (scan(location="B-9"), "unknown_location", "location: 'B-9' is not a location of node"),
        (scan(YOGURT_GTIN), "unknown_product", f"code: GTIN {YOGURT_GTIN} is not an active SKU"),
        (scan("12345"), "invalid_scan", "code: not a GTIN, SSCC or GS1 element string: '12345'"),
        (scan(quantity=0), "invalid_scan", "quantity: must be 1..1000000 for pick"),
        (scan(operator=" "), "invalid_scan", "operator: must be a non-empty string"),
        (scan(operator="x" * 201), "invalid_scan", "operator: at most 200 characters"),
    ],
)
def test_the_local_apis_rules_refuse_the_same_scans(refused: Scan, code: str, message: str) -> None:
    with pytest.raises(ScanFieldError) as caught:
        check_mqtt_scan(refused, CATALOGUE)
    assert caught.value.code == code
    assert str(caught.value).startswith(message)


def test_without_a_catalogue_a_scan_is_accepted_unchecked() -> None:
    checked = check_mqtt_scan(scan(YOGURT_GTIN, location="b-9"), None)
    assert checked.scan.location == "b-9" and checked.scan.code == f"(01){YOGURT_GTIN}"
    assert checked.known == {
        "product": None,
        "pallet": None,
        "location_zone": None,
        "catalogue_checked": False,
        "warning": NO_CATALOGUE_WARNING,
    }
    # a count may be zero, as over HTTP
    assert check_mqtt_scan(scan(quantity=0, operation="count"), None).scan.quantity == 0


def test_answers_are_the_local_api_answer_plus_msg_id_or_the_error() -> None:
    checked = check_mqtt_scan(scan(), CATALOGUE)
    accepted = json.loads(accepted_answer("m-1", checked, 42, replayed=False))
    assert accepted == {
        "msg_id": "m-1",
        "accepted": True,
        **scan_answer(checked, 42),
        "replayed": False,
    }
    assert accepted["seq"] == 42 and accepted["location"] == "A-01-01"
    again = json.loads(accepted_answer(None, checked, None, replayed=True))
    assert (again["msg_id"], again["seq"], again["replayed"]) == (None, None, True)

    error = ScanFieldError("location", "'B-9' is not a location", "unknown_location")
    assert json.loads(refused_answer("m-2", error)) == {
        "msg_id": "m-2",
        "accepted": False,
        "error": {
            "code": "unknown_location",
            "message": "location: 'B-9' is not a location",
            "field": "location",
        },
    }
    bad = refused_answer(None, "operator: NUL characters and lone surrogates are not text \ud800")
    assert bad.isascii()
    assert json.loads(bad) == {
        "msg_id": None,
        "accepted": False,
        "error": {
            "code": "invalid_scan",
            "message": "operator: NUL characters and lone surrogates are not text \ud800",
        },
    }


@pytest.mark.parametrize(
    ("payload", "msg_id"),
    [
        (b'{"msg_id": "m-7", "colour": "red"}', "m-7"),
        (b'{"msg_id": 7}', None),
        (b'{"msg_id": ""}', None),
        (b"[1]", None),
        (b"not json", None),
        (b'{"msg_id": "m-8", "x": ' + b"[" * 40 + b"]" * 40 + b"}", None),
    ],
)
def test_a_refused_payload_is_answered_with_its_msg_id_when_it_has_a_valid_one(
    payload: bytes, msg_id: str | None
) -> None:
    assert peek_msg_id(payload) == msg_id


def test_answer_topic_follows_the_message() -> None:
    topic = Topic("s1", "hh-9", MessageKind.SCAN)
    assert answer_topic(topic, "acme/v2") == "acme/v2/s1/hh-9/scan/answer"

"""Service rules over HTTP on SQLite and PostgreSQL: versions, publishing, evaluation, roles."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cloud.member_rules import DEFAULT_RULES
from tests.cloud.cloud_helpers import Cloud

URL = "/api/v1/service-rules"
VIP_ORDER = {
    "tier": "vip",
    "tags": [],
    "channel": "app",
    "channel_kind": "app",
    "basket_value_cents": 12_900,
    "item_count": 2,
    "temperature_classes": ["chilled"],
    "categories": ["dairy"],
}


def body(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def recent(text: str) -> bool:
    return abs(datetime.fromisoformat(text) - datetime.now(UTC)) < timedelta(minutes=1)


def same_day_for_gold() -> dict[str, Any]:
    """The defaults plus gold members on the app: same day and free shipping."""
    document = copy.deepcopy(DEFAULT_RULES)
    assert isinstance(document["rules"], list)
    document["rules"].insert(
        0,
        {
            "name": "gold-app-same-day",
            "when": {"tier": ["gold"], "channel_kind": ["app"]},
            "then": {"promise_class": "same_day", "free_shipping": True},
        },
    )
    return document


async def publish(cloud: Cloud, document: dict[str, Any], **extra: Any) -> httpx.Response:
    payload = {"document": document, "comment": "gold on the app", **extra}
    return await cloud.client.put(URL, json=payload, headers=cloud.auth(cloud.admin))


async def evaluate(cloud: Cloud, **payload: Any) -> httpx.Response:
    return await cloud.client.post(
        f"{URL}/evaluate", json=payload, headers=cloud.auth(cloud.operator)
    )


async def fresh_database_serves_the_shipped_defaults_as_version_1(cloud: Cloud) -> None:
    active = body(await cloud.client.get(URL, headers=cloud.auth(cloud.operator)))
    assert recent(active.pop("created_at"))
    assert active == {
        "version": 1,
        "comment": "shipped defaults",
        "created_by": "system",
        "document": DEFAULT_RULES,
    }
    versions = body(await cloud.client.get(f"{URL}/versions", headers=cloud.auth(cloud.admin)))
    assert [(v["version"], v["comment"], v["created_by"]) for v in versions] == [
        (1, "shipped defaults", "system")
    ]


async def publish_puts_a_new_version_in_force_and_keeps_the_old(cloud: Cloud) -> None:
    published = body(await publish(cloud, same_day_for_gold()))
    assert recent(published.pop("created_at"))
    assert published == {
        "version": 2,
        "comment": "gold on the app",
        "created_by": "admin",
        "document": same_day_for_gold(),
    }
    active = body(await cloud.client.get(URL, headers=cloud.auth(cloud.operator)))
    assert (active["version"], active["document"]) == (2, same_day_for_gold())
    old = body(await cloud.client.get(f"{URL}/1", headers=cloud.auth(cloud.operator)))
    assert (old["version"], old["document"]) == (1, DEFAULT_RULES)
    versions = body(await cloud.client.get(f"{URL}/versions", headers=cloud.auth(cloud.operator)))
    assert [v["version"] for v in versions] == [2, 1]

    gold = {**VIP_ORDER, "tier": "gold"}
    now = body(await evaluate(cloud, context=gold))
    assert now["version"] == 2
    assert now["decision"] == {
        "promise_class": "same_day",
        "door_delivery": False,
        "priority": 0,
        "unboxing_inspection": False,
        "free_shipping": True,
        "matched_rules": ["gold-app-same-day"],
    }
    before = body(await evaluate(cloud, context=gold, version=1))
    assert before["version"] == 1
    assert before["decision"]["promise_class"] == "instant"
    assert before["decision"]["matched_rules"] == []


async def evaluate_explains_the_decision(cloud: Cloud) -> None:
    context = {**VIP_ORDER, "tags": ["high-frequency"]}
    result = body(await evaluate(cloud, context=context))
    assert result == {
        "version": 1,
        "decision": {
            "promise_class": "next_day",
            "door_delivery": True,
            "priority": 0,
            "unboxing_inspection": False,
            "free_shipping": True,
            "matched_rules": ["vip-next-day-door", "high-frequency-free-shipping"],
        },
        "rules": [
            {"name": "vip-next-day-door", "matched": True, "unmet": []},
            {
                "name": "mother-and-baby-member",
                "matched": False,
                "unmet": ["tags_any: ['high-frequency'] include none of ['mother-and-baby']"],
            },
            {
                "name": "mother-and-baby-basket",
                "matched": False,
                "unmet": ["categories: ['dairy'] include none of ['mother_baby']"],
            },
            {"name": "high-frequency-free-shipping", "matched": True, "unmet": []},
        ],
        "decided_by": {
            "promise_class": "vip-next-day-door",
            "priority": "defaults",
            "door_delivery": "vip-next-day-door",
            "unboxing_inspection": "defaults",
            "free_shipping": "high-frequency-free-shipping",
        },
    }


async def evaluate_a_draft_without_publishing_it(cloud: Cloud) -> None:
    draft = same_day_for_gold()
    result = body(await evaluate(cloud, context={**VIP_ORDER, "tier": "gold"}, document=draft))
    assert result["version"] is None
    assert result["decision"]["promise_class"] == "same_day"
    versions = body(await cloud.client.get(f"{URL}/versions", headers=cloud.auth(cloud.admin)))
    assert [v["version"] for v in versions] == [1]

    draft["rules"][1]["when"] = {"tier": ["platinum"]}
    bad = body(await evaluate(cloud, context=VIP_ORDER, document=draft), 422)
    assert bad == {
        "error": {
            "code": "invalid_rule_set",
            "message": "document.rules[1].when.tier: unknown tier 'platinum'; "
            "declare it in tiers ['standard', 'silver', 'gold', 'vip']",
        }
    }


async def invalid_document_is_refused_naming_the_path_and_nothing_is_stored(
    cloud: Cloud,
) -> None:
    document = same_day_for_gold()
    document["rules"][2]["then"] = {"priority": 500}
    refused = body(await publish(cloud, document), 422)
    assert refused == {
        "error": {
            "code": "invalid_rule_set",
            "message": "document.rules[2].then.priority: expected a whole number 0..100, got 500",
        }
    }
    active = body(await cloud.client.get(URL, headers=cloud.auth(cloud.admin)))
    assert active["version"] == 1
    versions = body(await cloud.client.get(f"{URL}/versions", headers=cloud.auth(cloud.admin)))
    assert len(versions) == 1


PUBLISH_SHAPE_ERRORS = [
    ({"document": DEFAULT_RULES}, "body.comment: Field required"),
    (
        {"document": DEFAULT_RULES, "comment": ""},
        "body.comment: String should have at least 1 character",
    ),
    ({"document": ["rules"], "comment": "x"}, "body.document: Input should be a valid dictionary"),
    (
        {"document": DEFAULT_RULES, "comment": "x", "base_version": 0},
        "body.base_version: Input should be greater than or equal to 1",
    ),
]


async def publish_request_shape_errors(cloud: Cloud) -> None:
    for payload, message in PUBLISH_SHAPE_ERRORS:
        response = await cloud.client.put(URL, json=payload, headers=cloud.auth(cloud.admin))
        assert body(response, 422) == {
            "error": {"code": "validation_failed", "message": f"fix the request: {message}"}
        }


async def base_version_guards_against_overwriting_a_newer_version(cloud: Cloud) -> None:
    assert body(await publish(cloud, DEFAULT_RULES, base_version=2))["version"] == 3
    stale = body(await publish(cloud, same_day_for_gold(), base_version=2), 409)
    assert stale["error"]["code"] == "version_conflict"
    assert stale["error"]["message"].startswith("version 3 is in force, not base_version 2;")
    active = body(await cloud.client.get(URL, headers=cloud.auth(cloud.admin)))
    assert (active["version"], active["document"]) == (3, DEFAULT_RULES)


EVALUATE_CONTEXT_ERRORS = [
    (
        {"channel_kind": "pos"},
        "context.channel_kind: Value error, unknown channel kind 'pos'; "
        "use one of ('app', 'marketplace', 'delivery_platform')",
    ),
    (
        {"temperature_classes": ["warm"]},
        "context.temperature_classes: Value error, unknown temperature class 'warm'; "
        "use one of ('ambient', 'chilled', 'frozen')",
    ),
    (
        {"basket_value_cents": -1},
        "context.basket_value_cents: Input should be greater than or equal to 0",
    ),
    ({"channel": ""}, "context.channel: String should have at least 1 character"),
]


async def evaluate_request_errors(cloud: Cloud) -> None:
    for change, message in EVALUATE_CONTEXT_ERRORS:
        response = await evaluate(cloud, context={**VIP_ORDER, **change})
        assert body(response, 422) == {
            "error": {"code": "validation_failed", "message": f"fix the request: body.{message}"}
        }
    both = await evaluate(cloud, context=VIP_ORDER, version=1, document=DEFAULT_RULES)
    assert body(both, 422)["error"]["message"] == (
        "fix the request: body: Value error, give document or version, not both"
    )
    unknown = body(await evaluate(cloud, context=VIP_ORDER, version=7), 404)
    assert unknown == {
        "error": {
            "code": "rule_set_not_found",
            "message": "no service rule set version 7; versions are 1..1",
        }
    }
    missing = body(await cloud.client.get(f"{URL}/7", headers=cloud.auth(cloud.operator)), 404)
    assert missing == unknown


async def test_versions_publishing_and_refusals(cloud: Cloud) -> None:
    """One database through its life: defaults, a refused document, publishes, a stale editor."""
    await fresh_database_serves_the_shipped_defaults_as_version_1(cloud)
    await invalid_document_is_refused_naming_the_path_and_nothing_is_stored(cloud)
    await publish_request_shape_errors(cloud)
    await publish_puts_a_new_version_in_force_and_keeps_the_old(cloud)
    await base_version_guards_against_overwriting_a_newer_version(cloud)


async def test_evaluate(cloud: Cloud) -> None:
    await evaluate_explains_the_decision(cloud)
    await evaluate_a_draft_without_publishing_it(cloud)
    await evaluate_request_errors(cloud)


async def test_roles(cloud: Cloud) -> None:
    operator, warehouse = cloud.auth(cloud.operator), cloud.auth(cloud.warehouse)
    gateway = cloud.auth(cloud.gateway_a)
    evaluate_body = {"context": VIP_ORDER}
    for headers in (operator, cloud.auth(cloud.admin)):
        assert (await cloud.client.get(URL, headers=headers)).status_code == 200
        assert (await cloud.client.get(f"{URL}/versions", headers=headers)).status_code == 200
        assert (await cloud.client.get(f"{URL}/1", headers=headers)).status_code == 200
        response = await cloud.client.post(f"{URL}/evaluate", json=evaluate_body, headers=headers)
        assert response.status_code == 200
    publish_body = {"document": DEFAULT_RULES, "comment": "again"}
    for headers in (operator, warehouse, gateway):
        response = await cloud.client.put(URL, json=publish_body, headers=headers)
        assert body(response, 403)["error"]["code"] == "forbidden_role"
    for headers in (warehouse, gateway):
        for path in (URL, f"{URL}/versions", f"{URL}/1"):
            assert body(await cloud.client.get(path, headers=headers), 403)["error"]["code"] == (
                "forbidden_role"
            )
        response = await cloud.client.post(f"{URL}/evaluate", json=evaluate_body, headers=headers)
        assert response.status_code == 403
    assert (await cloud.client.get(URL)).status_code == 401
    versions = body(await cloud.client.get(f"{URL}/versions", headers=operator))
    assert [v["version"] for v in versions] == [1]
    paths = body(await cloud.client.get("/openapi.json"))["paths"]
    assert paths[URL]["get"]["x-roles"] == ["admin", "operator"]
    assert paths[URL]["put"]["x-roles"] == ["admin"]
    assert paths[f"{URL}/versions"]["get"]["x-roles"] == ["admin", "operator"]
    assert paths[f"{URL}/{{version}}"]["get"]["x-roles"] == ["admin", "operator"]
    assert paths[f"{URL}/evaluate"]["post"]["x-roles"] == ["admin", "operator"]

"""Members' personal data: ciphertext at rest, masked per role, clear reads audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from cloud.catalog_models import Member, MemberAddress, PiiAccess
from cloud.pii import pii_cipher
from cloud.settings import Settings
from tests.cloud.catalog.catalog_test_helpers import get_json
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import MEMBERS, MOTHER_BABY, VIP, seed_network

VIP_MEMBER = MEMBERS[0]


async def test_personal_data_is_ciphertext_at_rest_and_updatable(
    cloud: Cloud, tmp_path: Path
) -> None:
    await seed_network(cloud.client, cloud.admin)
    async with cloud.database.sessions() as session:
        member = await session.get(Member, VIP)
        addresses = (
            await session.scalars(select(MemberAddress).where(MemberAddress.member_id == VIP))
        ).all()
    assert member is not None and len(addresses) == 2
    raw = [member.name_enc, member.phone_enc, *(a.address_enc for a in addresses)]
    clear = [
        VIP_MEMBER["name"],
        VIP_MEMBER["phone"],
        *(a["address"] for a in VIP_MEMBER["addresses"]),
    ]
    for stored, text in zip(raw, clear, strict=True):
        assert text not in stored and stored.startswith("gAAAAA")  # a Fernet token
    # The app's cipher opens them again.
    cipher = pii_cipher(Settings(data_dir=tmp_path))  # the fixture's data directory
    assert [cipher.decrypt(token) for token in raw] == clear
    updated = {**VIP_MEMBER, "phone": "13800138999", "addresses": VIP_MEMBER["addresses"][:1]}
    response = await cloud.client.put(
        f"/api/v1/members/{VIP}", json=updated, headers=cloud.auth(cloud.admin)
    )
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "*******8999"
    assert [a["label"] for a in response.json()["addresses"]] == ["home"]
    deactivated = await cloud.client.delete(
        f"/api/v1/members/{VIP}", headers=cloud.auth(cloud.admin)
    )
    assert deactivated.json()["active"] is False


async def test_masked_unless_revealed_with_a_reason_and_audited(cloud: Cloud) -> None:
    seed = await seed_network(cloud.client, cloud.admin)
    masked = {
        "id": VIP,
        "tier": "vip",
        "tags": [],
        "name": "王*",
        "phone": "*******8001",
        "addresses": [
            {"label": "home", "address": "上海市徐汇区***", "lat": 31.19, "lon": 121.44},
            {"label": "office", "address": "上海市浦东新区***", "lat": 31.23, "lon": 121.51},
        ],
        "active": True,
        "masked": True,
    }
    for token in (cloud.admin, cloud.operator, cloud.warehouse, seed.channel_tokens["app"]):
        assert await get_json(cloud, f"/api/v1/members/{VIP}", token) == masked
    for token in (cloud.warehouse, seed.channel_tokens["meituan"]):
        refused = await cloud.client.get(
            f"/api/v1/members/{VIP}",
            params={"reveal": "true", "reason": "curious"},
            headers=cloud.auth(token),
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "reveal_forbidden"
    no_reason = await cloud.client.get(
        f"/api/v1/members/{VIP}", params={"reveal": "true"}, headers=cloud.auth(cloud.operator)
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["message"].startswith("reason: say why")
    clear = await get_json(
        cloud, f"/api/v1/members/{VIP}", cloud.operator, reveal="true", reason="ticket-881"
    )
    assert clear["masked"] is False
    assert (clear["name"], clear["phone"]) == (VIP_MEMBER["name"], VIP_MEMBER["phone"])
    assert [a["address"] for a in clear["addresses"]] == [
        a["address"] for a in VIP_MEMBER["addresses"]
    ]
    assert clear["addresses"][0]["lat"] == VIP_MEMBER["addresses"][0]["lat"]
    # Refused and masked reads left no audit rows; the clear one left exactly one.
    async with cloud.database.sessions() as session:
        rows = (await session.scalars(select(PiiAccess))).all()
    assert [(r.actor, r.role, r.record_type, r.record_id, r.fields, r.reason) for r in rows] == [
        ("operator", "operator", "member", VIP, ["name", "phone", "addresses"], "ticket-881")
    ]
    page = await get_json(
        cloud, "/api/v1/members", cloud.admin, reveal="true", reason="CRM export", limit=2
    )
    assert [m["id"] for m in page["items"]] == sorted(m["id"] for m in MEMBERS)[:2]
    await get_json(
        cloud, f"/api/v1/members/{MOTHER_BABY}", cloud.operator, reveal="true", reason="call back"
    )
    trail = await get_json(cloud, "/api/v1/audit/pii", cloud.admin)
    assert trail["total"] == 4
    assert [(r["actor"], r["record_id"], r["reason"]) for r in trail["items"]] == [
        ("operator", MOTHER_BABY, "call back"),
        ("admin", page["items"][1]["id"], "CRM export"),
        ("admin", page["items"][0]["id"], "CRM export"),
        ("operator", VIP, "ticket-881"),
    ]
    assert trail["items"][0]["at"].endswith("Z")
    only = await get_json(cloud, "/api/v1/audit/pii", cloud.admin, actor="operator")
    assert only["total"] == 2
    forbidden = await cloud.client.get("/api/v1/audit/pii", headers=cloud.auth(cloud.operator))
    assert forbidden.status_code == 403

"""``retailedge cloud import-catalogue`` with the shipped example network, and
``rotate-pii-key`` re-encrypting members and orders so the old key can go."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from cloud.catalog_models import Member, MemberAddress
from cloud.cli import cloud_group
from cloud.db import Database
from cloud.order_models import Order
from cloud.pii import PiiCipher

CATALOGUE = Path(__file__).resolve().parents[3] / "deploy" / "catalogue"
ORDER_OF_KINDS = ("nodes", "zones", "locations", "skus", "manifests", "channels", "members")


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cloud_group, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


async def _add_order(url: str, cipher: PiiCipher) -> None:
    database = Database(url)
    now = datetime.now(UTC)
    try:
        async with database.sessions.begin() as session:
            session.add(
                Order(
                    id="o-1",
                    channel="app",
                    external_id="A-1",
                    fingerprint="0" * 64,
                    status="received",
                    promise_class="same_day",
                    priority=0,
                    service={},
                    delivery_lat=31.19,
                    delivery_lon=121.44,
                    address_enc=cipher.encrypt("上海市徐汇区漕溪北路88号"),
                    recipient_name_enc=cipher.encrypt("王小明"),
                    recipient_phone_enc=cipher.encrypt("13800138001"),
                    placed_at=now,
                    updated_at=now,
                    version=1,
                )
            )
    finally:
        await database.dispose()


async def _stored_tokens(url: str) -> list[str]:
    database = Database(url)
    try:
        async with database.sessions() as session:
            member = (await session.scalars(select(Member).order_by(Member.id))).first()
            address = (await session.scalars(select(MemberAddress))).first()
            order = await session.get(Order, "o-1")
    finally:
        await database.dispose()
    assert member is not None and address is not None and order is not None
    return [
        member.name_enc,
        member.phone_enc,
        address.address_enc,
        order.address_enc,
        order.recipient_name_enc,
        order.recipient_phone_enc,
    ]


def test_import_example_network_then_rotate_the_pii_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    env = {"RETAILEDGE_DATABASE_URL": url, "RETAILEDGE_PII_KEYS": old}
    for kind in ORDER_OF_KINDS:
        code, out, err = run(
            ["import-catalogue", "--kind", kind, str(CATALOGUE / f"{kind}.csv"), "--json"], env
        )
        assert code == 0, err
        result = json.loads(out)
        assert result["kind"] == kind and result["created"] == result["total"] > 0
        assert f"{kind} from {kind}.csv: written [####################] {result['total']:,}/" in err
        assert "rows/s)" in err
    code, out, _ = run(["import-catalogue", "--kind", "skus", str(CATALOGUE / "skus.csv")], env)
    assert out == "skus: 12 rows, 0 created, 0 updated, 12 unchanged\n"

    bad = tmp_path / "locations.csv"
    bad.write_text("node_id,code,zone_id\nfw-sh-xuhui,B-1,\nnowhere,B-2,\n")
    code, out, err = run(["import-catalogue", "--kind", "locations", str(bad)], env)
    assert code == 1
    assert f"{bad}: line 3: node_id: no node 'nowhere'; create it first" in err
    assert f"nothing imported: 1 problem(s) in {bad}" in err

    asyncio.run(_add_order(url, PiiCipher([old])))
    before = asyncio.run(_stored_tokens(url))
    code, out, err = run(["rotate-pii-key"], {**env, "RETAILEDGE_PII_KEYS": f"{new},{old}"})
    assert code == 0, err
    assert out == "members: 4 rows, member_addresses: 5 rows, orders: 1 rows\n"
    assert "rotate-pii-key: orders [####################] 1/1 rows" in err
    after = asyncio.run(_stored_tokens(url))
    only_new = PiiCipher([new])
    clear = [only_new.decrypt(token) for token in after]
    assert clear[3:] == ["上海市徐汇区漕溪北路88号", "王小明", "13800138001"]
    assert clear == [PiiCipher([old]).decrypt(token) for token in before]
    # Without the old key, rotating again still works: everything is under the new key.
    code, _, err = run(["rotate-pii-key"], {**env, "RETAILEDGE_PII_KEYS": new})
    assert code == 0, err
    code, _, err = run(["rotate-pii-key"], {**env, "RETAILEDGE_PII_KEYS": old})
    assert code == 1 and "cannot be decrypted with the configured keys" in err

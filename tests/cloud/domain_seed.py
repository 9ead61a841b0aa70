"""A small, realistic Shanghai network created through the API, shared by the domain tests.

``await seed_network(cloud.client, cloud.admin)`` creates (through ``POST
/api/v1/catalogue/import``, one request per kind, then ``POST /api/v1/users`` and ``PUT
/api/v1/users/{name}/nodes``):

- 1 regional DC (Jiading, ambient/chilled/frozen, 60 km), 2 front warehouses (Xuhui with all
  three classes and gateway ``gw-a``; Zhangjiang without frozen), 2 stores (Lujiazui, ambient
  and chilled, gateway ``gw-b``; Jing'an, ambient only);
- one storage zone per node and capability (id ``<node>-<class>``), and bins ``A-01-01..03``
  (ambient), ``C-01-01..02`` (chilled), ``F-01-01`` (frozen) plus a zone-less ``DOCK-1``;
- 12 SKUs across the classes, among them a case of 24 bottles of water (``pack_of``);
- channels ``app`` (own app), ``meituan`` (delivery platform) and ``tmall`` (marketplace), each
  with a channel API key;
- 4 members: a VIP, a mother-and-baby buyer, a high-frequency buyer and a standard member;
- the fixture's ``warehouse`` user assigned to the Xuhui front warehouse.

The payload constants are module level so tests can reuse them (e.g. a member's clear name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from firmware_bridge.gs1 import with_check_digit

SHANGHAI = "Asia/Shanghai"
DAILY_7_23 = "mon-sun 07:00-23:00"
DAILY_8_22 = "mon-sun 08:00-22:00"

DC = "dc-sh-jiading"
FW_XUHUI = "fw-sh-xuhui"
FW_ZHANGJIANG = "fw-sh-zhangjiang"
STORE_LUJIAZUI = "st-sh-lujiazui"
STORE_JINGAN = "st-sh-jingan"

NODES: list[dict[str, Any]] = [
    {
        "id": DC,
        "name": "Jiading regional DC",
        "kind": "dc",
        "lat": 31.3520,
        "lon": 121.2460,
        "address": "上海市嘉定区叶城路1288号",
        "timezone": SHANGHAI,
        "opening_hours": None,
        "capabilities": ["ambient", "chilled", "frozen"],
        "delivery_radius_km": 60.0,
        "gateways": [],
    },
    {
        "id": FW_XUHUI,
        "name": "Xuhui front warehouse",
        "kind": "front_warehouse",
        "lat": 31.1880,
        "lon": 121.4370,
        "address": "上海市徐汇区漕溪北路200号",
        "timezone": SHANGHAI,
        "opening_hours": DAILY_7_23,
        "capabilities": ["ambient", "chilled", "frozen"],
        "delivery_radius_km": 3.0,
        "gateways": ["gw-a"],
    },
    {
        "id": FW_ZHANGJIANG,
        "name": "Zhangjiang front warehouse",
        "kind": "front_warehouse",
        "lat": 31.2040,
        "lon": 121.5900,
        "address": "上海市浦东新区张江路368号",
        "timezone": SHANGHAI,
        "opening_hours": DAILY_7_23,
        "capabilities": ["ambient", "chilled"],
        "delivery_radius_km": 3.0,
        "gateways": [],
    },
    {
        "id": STORE_LUJIAZUI,
        "name": "Lujiazui store",
        "kind": "store",
        "lat": 31.2380,
        "lon": 121.5050,
        "address": "上海市浦东新区陆家嘴环路1288号",
        "timezone": SHANGHAI,
        "opening_hours": DAILY_8_22,
        "capabilities": ["ambient", "chilled"],
        "delivery_radius_km": 2.0,
        "gateways": ["gw-b"],
    },
    {
        "id": STORE_JINGAN,
        "name": "Jing'an Temple store",
        "kind": "store",
        "lat": 31.2230,
        "lon": 121.4450,
        "address": "上海市静安区南京西路1688号",
        "timezone": SHANGHAI,
        "opening_hours": DAILY_8_22,
        "capabilities": ["ambient"],
        "delivery_radius_km": 2.0,
        "gateways": [],
    },
]

_ZONE_NAMES = {"ambient": "Ambient shelves", "chilled": "Chilled room", "frozen": "Freezer"}
_ALARM_SUBJECTS = {
    (FW_XUHUI, "chilled"): ["fridge-1", "xh-chiller-1"],
    (FW_XUHUI, "frozen"): ["freezer-1"],
}
_BINS = {
    "ambient": ["A-01-01", "A-01-02", "A-01-03"],
    "chilled": ["C-01-01", "C-01-02"],
    "frozen": ["F-01-01"],
}


def zone_id(node_id: str, temperature_class: str) -> str:
    return f"{node_id}-{temperature_class}"


ZONES: list[dict[str, Any]] = [
    {
        "id": zone_id(node["id"], capability),
        "node_id": node["id"],
        "name": _ZONE_NAMES[capability],
        "temperature_class": capability,
        "alarm_subjects": _ALARM_SUBJECTS.get(
            (node["id"], capability),
            [] if capability == "ambient" else [f"{node['id']}-{capability}-probe"],
        ),
    }
    for node in NODES
    for capability in node["capabilities"]
]

LOCATIONS: list[dict[str, Any]] = [
    {"node_id": node["id"], "code": code, "zone_id": zone_id(node["id"], capability)}
    for node in NODES
    for capability in node["capabilities"]
    for code in _BINS[capability]
] + [{"node_id": node["id"], "code": "DOCK-1", "zone_id": None} for node in NODES]


def gtin13(item: int) -> str:
    """A GTIN-13 under a Chinese (690) company prefix with a correct check digit."""
    return with_check_digit(f"690123450{item:03d}")


def case_gtin14(unit_gtin13: str, indicator: int = 1) -> str:
    """The GTIN-14 of a case of ``unit_gtin13`` units (indicator digit + 12 digits + check)."""
    return with_check_digit(f"{indicator}{unit_gtin13[:-1]}")


def _sku(
    sku_id: str,
    item: int,
    name: str,
    category: str,
    temperature_class: str,
    weight_g: int,
    volume_cm3: int,
) -> dict[str, Any]:
    return {
        "id": sku_id,
        "gtin": gtin13(item),
        "name": name,
        "category": category,
        "temperature_class": temperature_class,
        "weight_g": weight_g,
        "volume_cm3": volume_cm3,
        "pack_of": None,
        "pack_quantity": 1,
    }


WATER = "sku-water-550"
WATER_CASE = "sku-water-550-x24"
MILK = "sku-milk-950"
DUMPLINGS = "sku-dumplings-1kg"
DIAPERS = "sku-diapers-l"
FORMULA = "sku-formula-800"

SKUS: list[dict[str, Any]] = [
    _sku(WATER, 1, "Mineral water 550 ml", "beverages", "ambient", 570, 600),
    _sku("sku-noodles-5", 2, "Instant noodles 5-pack", "grocery", "ambient", 550, 3000),
    _sku("sku-rice-5kg", 3, "Northeast rice 5 kg", "grocery", "ambient", 5000, 6500),
    _sku(DIAPERS, 4, "Diapers size L, 54", "mother_baby", "ambient", 2100, 14000),
    _sku(FORMULA, 5, "Infant formula stage 2, 800 g", "mother_baby", "ambient", 950, 2400),
    _sku("sku-tissue-10", 6, "Facial tissue 10-pack", "household", "ambient", 1200, 12000),
    {
        **_sku(WATER_CASE, 7, "Mineral water 550 ml, case of 24", "beverages", "ambient", 0, 0),
        "gtin": case_gtin14(gtin13(1)),
        "weight_g": 13900,
        "volume_cm3": 16000,
        "pack_of": WATER,
        "pack_quantity": 24,
    },
    _sku(MILK, 8, "Fresh milk 950 ml", "dairy", "chilled", 1000, 1000),
    _sku("sku-yogurt-4", 9, "Plain yogurt 4 x 100 g", "dairy", "chilled", 440, 500),
    _sku("sku-tofu-400", 10, "Silken tofu 400 g", "fresh", "chilled", 420, 450),
    _sku(DUMPLINGS, 11, "Pork and cabbage dumplings 1 kg", "frozen_food", "frozen", 1050, 1800),
    _sku("sku-icecream-4", 12, "Vanilla ice cream 4-pack", "frozen_food", "frozen", 320, 600),
]

CHANNELS: list[dict[str, Any]] = [
    {
        "id": "app",
        "kind": "app",
        "webhook_url": "https://app.example/hooks/order-status",
        "webhook_secret": "app-webhook-secret-0001",
    },
    {
        "id": "meituan",
        "kind": "delivery_platform",
        "webhook_url": "https://meituan.example/hooks/order-status",
        "webhook_secret": "meituan-webhook-secret-0001",
    },
    {"id": "tmall", "kind": "marketplace", "webhook_url": None, "webhook_secret": None},
]

VIP = "m-vip-001"
MOTHER_BABY = "m-baby-002"
HIGH_FREQUENCY = "m-freq-003"
STANDARD = "m-std-004"

MEMBERS: list[dict[str, Any]] = [
    {
        "id": VIP,
        "tier": "vip",
        "tags": [],
        "name": "王小明",
        "phone": "13800138001",
        "addresses": [
            {
                "label": "home",
                "address": "上海市徐汇区漕溪北路88号2号楼1201室",
                "lat": 31.1900,
                "lon": 121.4380,
            },
            {
                "label": "office",
                "address": "上海市浦东新区世纪大道100号58楼",
                "lat": 31.2350,
                "lon": 121.5080,
            },
        ],
    },
    {
        "id": MOTHER_BABY,
        "tier": "standard",
        "tags": ["mother-and-baby"],
        "name": "李娜",
        "phone": "13900139002",
        "addresses": [
            {
                "label": "home",
                "address": "上海市浦东新区张江路500弄3号602室",
                "lat": 31.2050,
                "lon": 121.5880,
            }
        ],
    },
    {
        "id": HIGH_FREQUENCY,
        "tier": "standard",
        "tags": ["high-frequency"],
        "name": "张伟",
        "phone": "13700137003",
        "addresses": [
            {
                "label": "home",
                "address": "上海市浦东新区陆家嘴环路1000号18楼",
                "lat": 31.2370,
                "lon": 121.5060,
            }
        ],
    },
    {
        "id": STANDARD,
        "tier": "standard",
        "tags": [],
        "name": "陈静",
        "phone": "13600136004",
        "addresses": [
            {
                "label": "home",
                "address": "上海市静安区南京西路1600号9楼",
                "lat": 31.2240,
                "lon": 121.4460,
            }
        ],
    },
]


@dataclass(frozen=True)
class SeedNetwork:
    """Ids and tokens of what :func:`seed_network` created."""

    dc: str
    front_warehouses: tuple[str, ...]
    stores: tuple[str, ...]
    # node id -> {temperature class -> zone id}
    zones: dict[str, dict[str, str]]
    # node id -> location codes
    locations: dict[str, tuple[str, ...]]
    # sku id -> the SKU as the API returns it (GTIN normalised to 14 digits)
    skus: dict[str, dict[str, Any]]
    # channel id -> its API key (role channel)
    channel_tokens: dict[str, str]
    members: tuple[str, ...]
    # gateway id -> node id it is installed at
    gateway_nodes: dict[str, str]
    # warehouse user name -> nodes it works at (empty when not assigned)
    warehouse_nodes: dict[str, tuple[str, ...]]

    @property
    def node_ids(self) -> tuple[str, ...]:
        return (self.dc, *self.front_warehouses, *self.stores)


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, items: list[dict[str, Any]]
) -> None:
    response = await client.post(
        "/api/v1/catalogue/import", json={"kind": kind, "items": items}, headers=headers
    )
    assert response.status_code == 200, f"seed {kind}: {response.status_code} {response.text}"
    assert response.json()["total"] == len(items), response.text


async def seed_network(
    client: httpx.AsyncClient, admin_token: str, *, warehouse_user: str | None = "warehouse"
) -> SeedNetwork:
    """Create the network above through the API; ``warehouse_user`` (an existing warehouse
    user, as the ``cloud`` fixture has) is assigned to the Xuhui front warehouse."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    for kind, items in (
        ("nodes", NODES),
        ("zones", ZONES),
        ("locations", LOCATIONS),
        ("skus", SKUS),
        ("channels", CHANNELS),
        ("members", MEMBERS),
    ):
        await _import(client, headers, kind, items)
    channel_tokens: dict[str, str] = {}
    for channel in CHANNELS:
        response = await client.post(
            "/api/v1/users", json={"name": channel["id"], "role": "channel"}, headers=headers
        )
        assert response.status_code == 201, response.text
        channel_tokens[channel["id"]] = response.json()["api_key"]
    warehouse_nodes: dict[str, tuple[str, ...]] = {}
    if warehouse_user is not None:
        response = await client.put(
            f"/api/v1/users/{warehouse_user}/nodes", json={"node_ids": [FW_XUHUI]}, headers=headers
        )
        assert response.status_code == 200, response.text
        warehouse_nodes[warehouse_user] = (FW_XUHUI,)
    response = await client.get("/api/v1/skus", params={"limit": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    skus = {sku["id"]: sku for sku in response.json()["items"]}
    return SeedNetwork(
        dc=DC,
        front_warehouses=(FW_XUHUI, FW_ZHANGJIANG),
        stores=(STORE_LUJIAZUI, STORE_JINGAN),
        zones={
            node["id"]: {c: zone_id(node["id"], c) for c in node["capabilities"]} for node in NODES
        },
        locations={
            node["id"]: tuple(loc["code"] for loc in LOCATIONS if loc["node_id"] == node["id"])
            for node in NODES
        },
        skus=skus,
        channel_tokens=channel_tokens,
        members=tuple(member["id"] for member in MEMBERS),
        gateway_nodes={gateway: node["id"] for node in NODES for gateway in node["gateways"]},
        warehouse_nodes=warehouse_nodes,
    )

"""Catalogue kinds of the network: nodes (with their gateways), storage zones, locations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Location, Node, NodeGateway, StorageZone
from cloud.catalog_schemas import LocationIn, NodeIn, ZoneIn
from cloud.services.catalog_base import CatalogKind, Listing, chunks, page_of
from cloud.services.catalog_rows import Problem, Row


async def existing_node_capabilities(
    session: AsyncSession, node_ids: Sequence[str]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in chunks(sorted(set(node_ids))):
        rows = await session.execute(select(Node.id, Node.capabilities).where(Node.id.in_(part)))
        found.update({row.id: list(row.capabilities) for row in rows})
    return found


def _node_row(item: NodeIn, now: datetime) -> dict[str, Any]:
    row = item.model_dump(exclude={"gateways"})
    row["opening_hours"] = (
        None
        if item.opening_hours is None
        else {day: [list(span) for span in spans] for day, spans in item.opening_hours.items()}
    )
    row["updated_at"] = now
    return row


class NodeKind(CatalogKind[NodeIn]):
    name = "nodes"
    model = NodeIn

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, NodeIn]:
        nodes = (await session.scalars(select(Node).where(Node.id.in_(keys)))).all()
        gateways: dict[str, list[str]] = defaultdict(list)
        for gateway in await session.scalars(
            select(NodeGateway).where(NodeGateway.node_id.in_(keys))
        ):
            gateways[gateway.node_id].append(gateway.gateway_id)
        return {
            node.id: NodeIn(
                id=node.id,
                name=node.name,
                kind=node.kind,
                lat=node.lat,
                lon=node.lon,
                address=node.address,
                timezone=node.timezone,
                opening_hours=node.opening_hours,
                capabilities=node.capabilities,
                delivery_radius_km=node.delivery_radius_km,
                gateways=gateways[node.id],
                active=node.active,
            )
            for node in nodes
        }

    async def check(self, session: AsyncSession, rows: list[Row[NodeIn]]) -> list[Problem]:
        problems: list[Problem] = []
        claimed: dict[str, tuple[str, int | None]] = {}
        for row in rows:
            for gateway in row.item.gateways:
                other = claimed.get(gateway)
                if other is not None:
                    problems.append(
                        Problem(
                            row.line,
                            "gateways",
                            f"gateway {gateway!r} is also given to node {other[0]!r}",
                        )
                    )
                claimed[gateway] = (row.item.id, row.line)
        line_of = {row.item.id: row.line for row in rows}
        for part in chunks(sorted(claimed)):
            stored = await session.execute(
                select(NodeGateway.gateway_id, NodeGateway.node_id).where(
                    NodeGateway.gateway_id.in_(part)
                )
            )
            for gateway_id, node_id in stored:
                wanted_by = claimed[gateway_id][0]
                if node_id != wanted_by and node_id not in line_of:
                    problems.append(
                        Problem(
                            claimed[gateway_id][1],
                            "gateways",
                            f"gateway {gateway_id!r} is installed at node {node_id!r}; "
                            "remove it there first",
                        )
                    )
        capabilities = {row.item.id: set(row.item.capabilities) for row in rows}
        for part in chunks(sorted(capabilities)):
            zones = await session.execute(
                select(StorageZone.node_id, StorageZone.id, StorageZone.temperature_class).where(
                    StorageZone.node_id.in_(part)
                )
            )
            for node_id, zone, temperature_class in zones:
                if temperature_class not in capabilities[node_id]:
                    problems.append(
                        Problem(
                            line_of[node_id],
                            "capabilities",
                            f"zone {zone!r} is {temperature_class}; keep {temperature_class!r}",
                        )
                    )
        return problems

    async def write(
        self, session: AsyncSession, new: list[NodeIn], changed: list[NodeIn], now: datetime
    ) -> None:
        if new:
            await session.execute(
                insert(Node), [{**_node_row(item, now), "created_at": now} for item in new]
            )
        if changed:
            await session.execute(update(Node), [_node_row(item, now) for item in changed])
        touched = [item.id for item in (*new, *changed)]
        for part in chunks(touched):
            await session.execute(delete(NodeGateway).where(NodeGateway.node_id.in_(part)))
        installs = [
            {"gateway_id": gateway, "node_id": item.id}
            for item in (*new, *changed)
            for gateway in item.gateways
        ]
        if installs:
            await session.execute(insert(NodeGateway), installs)

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        rows, total = await page_of(session, [Node.id], listing)
        return [row[0] for row in rows], total

    async def deactivate(self, session: AsyncSession, key: str, now: datetime) -> NodeIn:
        result = await session.execute(
            update(Node).where(Node.id == key).values(active=False, updated_at=now)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise ApiError(404, "node_not_found", f"node_id: no node {key!r}")
        return (await self.load(session, [key]))[key]


class ZoneKind(CatalogKind[ZoneIn]):
    name = "zones"
    model = ZoneIn

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, ZoneIn]:
        zones = await session.scalars(select(StorageZone).where(StorageZone.id.in_(keys)))
        return {
            zone.id: ZoneIn(
                id=zone.id,
                node_id=zone.node_id,
                name=zone.name,
                temperature_class=zone.temperature_class,
                alarm_subjects=zone.alarm_subjects,
            )
            for zone in zones
        }

    async def check(self, session: AsyncSession, rows: list[Row[ZoneIn]]) -> list[Problem]:
        problems: list[Problem] = []
        nodes = await existing_node_capabilities(session, [row.item.node_id for row in rows])
        stored: dict[str, ZoneIn] = {}
        for part in chunks([row.item.id for row in rows]):
            stored.update(await self.load(session, part))
        # Subjects per node: the stored zones' (unless replaced here) plus this file's.
        subjects: dict[tuple[str, str], str] = {}
        replaced = {row.item.id for row in rows}
        for part in chunks(sorted(nodes)):
            for zone in await session.scalars(
                select(StorageZone).where(StorageZone.node_id.in_(part))
            ):
                if zone.id not in replaced:
                    for subject in zone.alarm_subjects:
                        subjects[(zone.node_id, subject)] = zone.id
        for row in rows:
            item = row.item
            capabilities = nodes.get(item.node_id)
            if capabilities is None:
                problems.append(
                    Problem(row.line, "node_id", f"no node {item.node_id!r}; create it first")
                )
                continue
            if item.temperature_class not in capabilities:
                problems.append(
                    Problem(
                        row.line,
                        "temperature_class",
                        f"node {item.node_id!r} has no {item.temperature_class} capability "
                        f"(it has {', '.join(capabilities)})",
                    )
                )
            before = stored.get(item.id)
            if before is not None and before.node_id != item.node_id:
                problems.append(
                    Problem(
                        row.line,
                        "node_id",
                        f"zone {item.id!r} belongs to node {before.node_id!r}; "
                        "zones cannot move, create a new one",
                    )
                )
            for subject in item.alarm_subjects:
                owner = subjects.setdefault((item.node_id, subject), item.id)
                if owner != item.id:
                    problems.append(
                        Problem(
                            row.line,
                            "alarm_subjects",
                            f"{subject!r} already stands for zone {owner!r} at this node",
                        )
                    )
        return problems

    async def write(
        self, session: AsyncSession, new: list[ZoneIn], changed: list[ZoneIn], now: datetime
    ) -> None:
        if new:
            await session.execute(insert(StorageZone), [item.model_dump() for item in new])
        if changed:
            await session.execute(update(StorageZone), [item.model_dump() for item in changed])

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        rows, total = await page_of(session, [StorageZone.id], listing)
        return [row[0] for row in rows], total


def location_key(node_id: str, code: str) -> str:
    return f"{node_id}/{code}"


class LocationKind(CatalogKind[LocationIn]):
    name = "locations"
    model = LocationIn
    key_field: ClassVar[str] = "code"

    def key(self, item: LocationIn) -> str:
        return location_key(item.node_id, item.code)

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, LocationIn]:
        by_node: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            node_id, _, code = key.partition("/")
            by_node[node_id].append(code)
        found: dict[str, LocationIn] = {}
        for node_id, codes in by_node.items():
            for location in await session.scalars(
                select(Location).where(Location.node_id == node_id, Location.code.in_(codes))
            ):
                found[location_key(location.node_id, location.code)] = LocationIn(
                    node_id=location.node_id, code=location.code, zone_id=location.zone_id
                )
        return found

    async def check(self, session: AsyncSession, rows: list[Row[LocationIn]]) -> list[Problem]:
        problems: list[Problem] = []
        nodes = await existing_node_capabilities(session, [row.item.node_id for row in rows])
        zone_nodes: dict[str, str] = {}
        zone_ids = sorted({row.item.zone_id for row in rows if row.item.zone_id is not None})
        for part in chunks(zone_ids):
            zones = await session.execute(
                select(StorageZone.id, StorageZone.node_id).where(StorageZone.id.in_(part))
            )
            zone_nodes.update({zone_id: node_id for zone_id, node_id in zones})
        for row in rows:
            item = row.item
            if item.node_id not in nodes:
                problems.append(
                    Problem(row.line, "node_id", f"no node {item.node_id!r}; create it first")
                )
                continue
            if item.zone_id is None:
                continue
            zone_node = zone_nodes.get(item.zone_id)
            if zone_node is None:
                problems.append(
                    Problem(row.line, "zone_id", f"no zone {item.zone_id!r}; create it first")
                )
            elif zone_node != item.node_id:
                problems.append(
                    Problem(
                        row.line,
                        "zone_id",
                        f"zone {item.zone_id!r} is at node {zone_node!r}, not {item.node_id!r}",
                    )
                )
        return problems

    async def write(
        self,
        session: AsyncSession,
        new: list[LocationIn],
        changed: list[LocationIn],
        now: datetime,
    ) -> None:
        if new:
            await session.execute(insert(Location), [item.model_dump() for item in new])
        if changed:
            await session.execute(update(Location), [item.model_dump() for item in changed])

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        rows, total = await page_of(session, [Location.node_id, Location.code], listing)
        return [location_key(node_id, code) for node_id, code in rows], total

"""Catalogue kinds of parties: members (personal data encrypted) and sales channels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Channel, Member, MemberAddress
from cloud.catalog_schemas import AddressIn, ChannelIn, MemberIn
from cloud.services.catalog_base import CatalogKind, Listing, chunks, page_of


class MemberKind(CatalogKind[MemberIn]):
    name = "members"
    model = MemberIn

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, MemberIn]:
        members = (await session.scalars(select(Member).where(Member.id.in_(keys)))).all()
        addresses: dict[str, list[AddressIn]] = defaultdict(list)
        for address in await session.scalars(
            select(MemberAddress).where(MemberAddress.member_id.in_(keys))
        ):
            addresses[address.member_id].append(
                AddressIn(
                    label=address.label,
                    address=self.cipher.decrypt(address.address_enc),
                    lat=address.lat,
                    lon=address.lon,
                )
            )
        return {
            member.id: MemberIn(
                id=member.id,
                tier=member.tier,
                tags=member.tags,
                name=self.cipher.decrypt(member.name_enc),
                phone=self.cipher.decrypt(member.phone_enc),
                addresses=addresses[member.id],
                active=member.active,
            )
            for member in members
        }

    def _row(self, item: MemberIn, now: datetime) -> dict[str, Any]:
        return {
            "id": item.id,
            "tier": item.tier,
            "tags": item.tags,
            "name_enc": self.cipher.encrypt(item.name),
            "phone_enc": self.cipher.encrypt(item.phone),
            "active": item.active,
            "updated_at": now,
        }

    async def write(
        self, session: AsyncSession, new: list[MemberIn], changed: list[MemberIn], now: datetime
    ) -> None:
        if new:
            await session.execute(
                insert(Member), [{**self._row(item, now), "created_at": now} for item in new]
            )
        if changed:
            await session.execute(update(Member), [self._row(item, now) for item in changed])
        for part in chunks([item.id for item in changed]):
            await session.execute(delete(MemberAddress).where(MemberAddress.member_id.in_(part)))
        addresses = [
            {
                "member_id": item.id,
                "label": address.label,
                "address_enc": self.cipher.encrypt(address.address),
                "lat": address.lat,
                "lon": address.lon,
            }
            for item in (*new, *changed)
            for address in item.addresses
        ]
        if addresses:
            await session.execute(insert(MemberAddress), addresses)

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        rows, total = await page_of(session, [Member.id], listing)
        return [row[0] for row in rows], total

    async def deactivate(self, session: AsyncSession, key: str, now: datetime) -> MemberIn:
        result = await session.execute(
            update(Member).where(Member.id == key).values(active=False, updated_at=now)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise ApiError(404, "member_not_found", f"member_id: no member {key!r}")
        return (await self.load(session, [key]))[key]


class ChannelKind(CatalogKind[ChannelIn]):
    name = "channels"
    model = ChannelIn

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, ChannelIn]:
        channels = await session.scalars(select(Channel).where(Channel.id.in_(keys)))
        return {
            channel.id: ChannelIn(
                id=channel.id,
                kind=channel.kind,
                webhook_url=channel.webhook_url,
                webhook_secret=channel.webhook_secret,
                active=channel.active,
            )
            for channel in channels
        }

    async def write(
        self, session: AsyncSession, new: list[ChannelIn], changed: list[ChannelIn], now: datetime
    ) -> None:
        if new:
            await session.execute(
                insert(Channel), [{**item.model_dump(), "created_at": now} for item in new]
            )
        if changed:
            await session.execute(update(Channel), [item.model_dump() for item in changed])

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        rows, total = await page_of(session, [Channel.id], listing)
        return [row[0] for row in rows], total

    async def deactivate(self, session: AsyncSession, key: str, now: datetime) -> ChannelIn:
        result = await session.execute(
            update(Channel).where(Channel.id == key).values(active=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise ApiError(404, "channel_not_found", f"channel_id: no channel {key!r}")
        return (await self.load(session, [key]))[key]

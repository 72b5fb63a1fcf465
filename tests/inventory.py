"""Helpers shared by the inventory, marketplace and finder tests: locations of the test's own,
with a manager and a provider who can log in, and the records the authorization test needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import httpx
from sqlalchemy import func, select

from domain.security import hash_password
from records.db import transaction
from records.inventory import InventoryEvent, Transfer
from records.locations import Location
from records.marketplace import ShortageRequest, SurplusOffer
from records.products import InventoryLot
from records.users import Membership, User
from tests.conftest import login
from worker.seed import DEMO_PASSWORD


@cache
def _password_hash() -> str:
    return hash_password(DEMO_PASSWORD)


@dataclass(frozen=True)
class Site:
    id: int
    code: str
    manager: str  # login names
    provider: str


async def new_site(
    sessions: Any, *, scheduling: bool = True, published: bool = False, name: str | None = None
) -> Site:
    """A location of the test's own, with a manager and a provider (password DEMO_PASSWORD)."""
    tag = uuid.uuid4().hex[:6].upper()
    async with transaction(sessions) as db:
        location = Location(
            code=f"T-{tag}",
            name=name or f"Test Clinic {tag}",
            time_zone="America/New_York",
            scheduling_enabled=scheduling,
            provider_pin=f"PIN-{tag}",
            address=f"{tag} Main St, Durham, NC 27701",
            phone="(919) 555-0100",
            published=published,
        )
        db.add(location)
        await db.flush()
        logins = {}
        for role in ("manager", "provider"):
            user = User(
                login_name=f"{role}.{tag.lower()}",
                email=f"{role}.{tag.lower()}@clinic.test",
                first_name=role.title(),
                last_name=tag,
                password_hash=_password_hash(),
            )
            db.add(user)
            await db.flush()
            db.add(Membership(user_id=user.id, location_id=location.id, role=role))
            logins[role] = user.login_name
        return Site(
            id=location.id, code=location.code, manager=logins["manager"], provider=logins["provider"]
        )


async def headers_for(api: httpx.AsyncClient, login_name: str) -> dict[str, str]:
    return await login(api, login_name)


async def receive_lot(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    product_code: str,
    doses: int,
    *,
    expires_on: date = date(2031, 1, 31),
) -> dict[str, Any]:
    response = await api.post(
        "/lots",
        json={
            "product_code": product_code,
            "lot_number": f"L-{uuid.uuid4().hex[:8]}",
            "expires_on": expires_on.isoformat(),
            "doses_received": doses,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def on_hand(api: httpx.AsyncClient, headers: dict[str, str], lot_id: int) -> int:
    lots = (await api.get("/inventory", headers=headers)).json()["lots"]
    return next(lot["on_hand"] for lot in lots if lot["id"] == lot_id)


async def ledger(sessions: Any, lot_id: int) -> tuple[int, int]:
    """(sum of the lot's events, its running total), read straight from the database."""
    async with transaction(sessions) as db:
        total = (
            await db.execute(
                select(func.coalesce(func.sum(InventoryEvent.quantity), 0)).where(
                    InventoryEvent.lot_id == lot_id
                )
            )
        ).scalar_one()
        running = (
            await db.execute(select(InventoryLot.on_hand).where(InventoryLot.id == lot_id))
        ).scalar_one()
        return int(total), running


# --- records at BUNC-02 for the authorization test's 404 checks ---------------------------------


async def _bunc(db: Any) -> int:
    return (await db.execute(select(Location.id).where(Location.code == "BUNC-02"))).scalar_one()


async def _foreign_lot(db: Any) -> InventoryLot:
    lot = InventoryLot(
        location_id=await _bunc(db),
        product_code="pfizer",
        lot_number=f"F-{uuid.uuid4().hex[:8]}",
        expires_on=date(2031, 1, 31),
    )
    db.add(lot)
    await db.flush()
    return lot


async def foreign_lot(sessions: Any) -> int:
    async with transaction(sessions) as db:
        return (await _foreign_lot(db)).id


async def foreign_transfer(sessions: Any) -> int:
    """A transfer between BUNC-02 and a location of its own (neither is WAKE-01)."""
    third = await new_site(sessions, scheduling=False)
    async with transaction(sessions) as db:
        lot = await _foreign_lot(db)
        transfer = Transfer(
            from_location_id=lot.location_id,
            to_location_id=third.id,
            lot_id=lot.id,
            product_code=lot.product_code,
            quantity=1,
            created_by="test",
        )
        db.add(transfer)
        await db.flush()
        return transfer.id


async def foreign_offer(sessions: Any) -> int:
    async with transaction(sessions) as db:
        lot = await _foreign_lot(db)
        offer = SurplusOffer(
            location_id=lot.location_id,
            lot_id=lot.id,
            product_code="pfizer",
            quantity=1,
            created_by="test",
            status="withdrawn",  # never matched by another test's request
        )
        db.add(offer)
        await db.flush()
        return offer.id


async def foreign_shortage(sessions: Any) -> int:
    async with transaction(sessions) as db:
        shortage = ShortageRequest(
            location_id=await _bunc(db),
            product_code="pfizer",
            quantity=1,
            created_by="test",
            status="withdrawn",  # never matched by another test's offer
        )
        db.add(shortage)
        await db.flush()
        return shortage.id

"""Demo data for the development stack: seeded once, on first start."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.security import hash_password
from records.db import transaction
from records.locations import Location
from records.users import Membership, User

DEMO_PASSWORD = "cvms-demo-2026"


@dataclass(frozen=True)
class DemoLogin:
    login_name: str
    roles: str


DEMO_LOCATIONS = (
    dict(
        code="WAKE-01",
        name="Wake County Public Health Center",
        time_zone="America/New_York",
        scheduling_enabled=True,
        provider_pin="WAKE-4821",
        address="10 Sunnybrook Rd, Raleigh, NC 27610",
        phone="(919) 250-4462",
    ),
    dict(
        code="BUNC-02",
        name="Buncombe County Walk-in Clinic",
        time_zone="America/New_York",
        scheduling_enabled=False,
        provider_pin="BUNC-3307",
        address="40 Coxe Ave, Asheville, NC 28801",
        phone="(828) 250-5000",
    ),
)

# login name, first, last, {location code: role}
DEMO_USERS = (
    ("manager", "Maria", "Manning", {"WAKE-01": "manager"}),
    ("provider", "Paul", "Provost", {"WAKE-01": "provider"}),
    ("scheduler", "Sara", "Schultz", {"WAKE-01": "scheduler"}),
    ("readonly", "Rita", "Reed", {"WAKE-01": "readonly"}),
    ("twosites", "Tomas", "Peña", {"WAKE-01": "provider", "BUNC-02": "manager"}),
)


async def seed_foundation(db: AsyncSession) -> bool:
    """Adds the demo locations and users; False when they were already there."""
    if (await db.execute(select(Location.id).limit(1))).first() is not None:
        return False
    locations = {}
    for spec in DEMO_LOCATIONS:
        location = Location(**spec)
        db.add(location)
        locations[spec["code"]] = location
    await db.flush()
    password_hash = hash_password(DEMO_PASSWORD)
    for login_name, first, last, roles in DEMO_USERS:
        user = User(
            login_name=login_name,
            email=f"{login_name}@cvms.example",
            first_name=first,
            last_name=last,
            password_hash=password_hash,
        )
        db.add(user)
        await db.flush()
        for code, role in roles.items():
            db.add(Membership(user_id=user.id, location_id=locations[code].id, role=role))
    return True


# Each later domain (products, help desk, …) adds its seeding step here.
SEED_STEPS = [seed_foundation]


async def seed(sessions: async_sessionmaker[AsyncSession]) -> bool:
    seeded = False
    for step in SEED_STEPS:
        async with transaction(sessions) as db:
            seeded = await step(db) or seeded
    return seeded


def demo_logins() -> list[DemoLogin]:
    return [
        DemoLogin(login, ", ".join(f"{role} at {code}" for code, role in roles.items()))
        for login, _first, _last, roles in DEMO_USERS
    ]

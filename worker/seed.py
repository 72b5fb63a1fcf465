"""Demo data for the development stack: seeded once, on first start."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.security import hash_password
from records.db import transaction
from records.eligibility import seed_minimum_ages
from records.helpdesk import Agent, Category, Requester, RoutingRule, Team, TeamMember, Topic
from records.inventory import seed_demo_stock
from records.locations import Location
from records.products import seed_demo_lots, seed_products
from records.schedules import seed_schedules
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


HELPDESK_TOPICS = (
    # code, name, Spanish name, default priority
    ("login-access", "Login and access", "Inicio de sesión y acceso", "high"),
    ("switching-locations", "Switching locations", "Cambio de sede", "normal"),
    ("documenting-doses", "Documenting doses", "Registro de dosis", "high"),
    ("scheduling", "Scheduling", "Citas", "normal"),
    ("vaccination-record", "Vaccination record", "Registro de vacunación", "normal"),
    ("other", "Other", "Otro", "low"),
)
HELPDESK_CATEGORIES = (
    # code, name, Spanish name, team its cases go to
    ("vaccine-provider", "Vaccine Provider", "Proveedor de vacunas", "Provider Support"),
    ("recipient", "Recipient", "Persona vacunada", "Recipient Support"),
    ("other", "Other", "Otro", "General Support"),
)
HELPDESK_TEAMS = (
    # name, escalation email, default team
    ("Provider Support", "provider-support@cvms.example", False),
    ("Recipient Support", "recipient-support@cvms.example", False),
    ("General Support", "help-desk@cvms.example", True),
)
DEMO_AGENT = ("agent", "Alex", "Agent")
DEMO_REQUESTER = ("requester@cvms.example", "Rosa", "Requester")


async def seed_helpdesk(db: AsyncSession) -> bool:
    """Categories, topics, teams, routing rules, a demo agent (all teams, help-desk and
    programme administrator) and a demo requester; False when the help desk was already seeded."""
    if (await db.execute(select(Team.id).limit(1))).first() is not None:
        return False
    teams = {}
    for name, email, is_default in HELPDESK_TEAMS:
        teams[name] = Team(name=name, email=email, is_default=is_default)
        db.add(teams[name])
    for position, (code, name, name_es, team_name) in enumerate(HELPDESK_CATEGORIES):
        category = Category(code=code, name=name, name_es=name_es, position=position)
        db.add(category)
        await db.flush()
        for topic_position, (topic_code, topic_name, topic_name_es, priority) in enumerate(HELPDESK_TOPICS):
            db.add(
                Topic(
                    category_id=category.id,
                    code=topic_code,
                    name=topic_name,
                    name_es=topic_name_es,
                    default_priority=priority,
                    position=topic_position,
                )
            )
        db.add(RoutingRule(category_id=category.id, topic_id=None, team_id=teams[team_name].id))
    login_name, first, last = DEMO_AGENT
    password_hash = hash_password(DEMO_PASSWORD)
    user = User(
        login_name=login_name,
        email=f"{login_name}@cvms.example",
        first_name=first,
        last_name=last,
        password_hash=password_hash,
        is_admin=True,  # the demo's programme administrator too
    )
    db.add(user)
    await db.flush()
    agent = Agent(user_id=user.id, display_name=f"{first} {last}", is_admin=True)
    db.add(agent)
    await db.flush()
    for team in teams.values():
        db.add(TeamMember(team_id=team.id, agent_id=agent.id))
    email, first, last = DEMO_REQUESTER
    db.add(
        Requester(
            first_name=first,
            last_name=last,
            email=email,
            password_hash=password_hash,
            must_change_password=False,
            confirmed=True,
        )
    )
    return True


# Weekdays 08:00-17:00 and Saturday mornings, in each location's time zone.
DEMO_HOURS = [{"weekday": d, "opens": "08:00:00", "closes": "17:00:00"} for d in range(5)] + [
    {"weekday": 5, "opens": "09:00:00", "closes": "13:00:00"}
]


async def seed_demo_listings(db: AsyncSession) -> bool:
    """Publishes the demo locations to the finder, with hours, unless they were ever given hours."""
    codes = [location["code"] for location in DEMO_LOCATIONS]
    rows = (await db.execute(select(Location).where(Location.code.in_(codes)))).scalars().all()
    fresh = [location for location in rows if not location.opening_hours]
    for location in fresh:
        location.opening_hours = DEMO_HOURS
        location.published = True
    return bool(fresh)


# Each later domain (products, help desk, …) adds its seeding step here.
SEED_STEPS = [
    seed_foundation,
    seed_helpdesk,
    seed_products,
    seed_demo_lots,
    seed_demo_stock,
    seed_demo_listings,
    seed_minimum_ages,
    seed_schedules,
]


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
    ] + [
        DemoLogin(
            DEMO_AGENT[0],
            "programme administrator; help-desk agent and administrator, all teams (log in at /portal/login)",
        ),
        DemoLogin(DEMO_REQUESTER[0], "help-desk requester (log in at /helpdesk/login)"),
    ]

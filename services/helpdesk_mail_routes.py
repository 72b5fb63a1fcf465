"""Mail routes: which category and topic a case opened by email gets, by the address it was sent
to and its subject (the routing rules then choose its team). Administered by help-desk
administrators, audited; none matching: CVMS_HELPDESK_MAIL_TOPIC."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Forbidden, NotFound
from domain.settings import Settings
from records.audit import audit
from records.helpdesk import Agent, Category, Topic
from records.helpdesk_mail import MailRoute
from services.helpdesk_intake import category_and_topic


async def mail_topic(
    db: AsyncSession, settings: Settings, recipients: list[str], subject: str
) -> tuple[Category, Topic]:
    """The first mail route (by position) matching a recipient and the subject; else the setting."""
    lowered = subject.lower()
    for route in await _routes(db):
        if route.address and route.address.lower() not in recipients:
            continue
        if route.subject_contains and route.subject_contains.lower() not in lowered:
            continue
        category = await db.get(Category, route.category_id)
        topic = await db.get(Topic, route.topic_id)
        if category is not None and topic is not None:
            return category, topic
    category_code, _, topic_code = settings.helpdesk_mail_topic.partition("/")
    chosen, chosen_topic = await category_and_topic(db, category_code.strip(), topic_code.strip() or None)
    return chosen, chosen_topic or chosen.topics[0]


async def _routes(db: AsyncSession) -> list[MailRoute]:
    return list((await db.execute(select(MailRoute).order_by(MailRoute.position, MailRoute.id))).scalars())


async def mail_routes(*, db: AsyncSession) -> list[tuple[MailRoute, Category, Topic]]:
    found = []
    for route in await _routes(db):
        category = await db.get(Category, route.category_id)
        topic = await db.get(Topic, route.topic_id)
        if category is not None and topic is not None:
            found.append((route, category, topic))
    return found


def _require_admin(agent: Agent) -> None:
    if not agent.is_admin:
        raise Forbidden("only help-desk administrators change mail routes")


async def add_mail_route(
    *,
    db: AsyncSession,
    agent: Agent,
    actor: str,
    address: str,
    subject_contains: str,
    category: str,
    topic: str,
    position: int,
) -> tuple[MailRoute, Category, Topic]:
    _require_admin(agent)
    chosen, chosen_topic = await category_and_topic(db, category, topic)
    assert chosen_topic is not None
    route = MailRoute(
        position=position,
        address=address.strip().lower(),
        subject_contains=subject_contains.strip(),
        category_id=chosen.id,
        topic_id=chosen_topic.id,
        note="",
    )
    db.add(route)
    await db.flush()
    audit(
        db,
        actor=actor,
        entity="mail_route",
        entity_id=route.id,
        action="add",
        changes={
            "address": [None, route.address],
            "subject_contains": [None, route.subject_contains],
            "topic": [None, f"{chosen.code}/{chosen_topic.code}"],
            "position": [None, position],
        },
    )
    return route, chosen, chosen_topic


async def remove_mail_route(*, db: AsyncSession, agent: Agent, actor: str, route_id: int) -> None:
    _require_admin(agent)
    route = await db.get(MailRoute, route_id)
    if route is None:
        raise NotFound("no such mail route")
    await db.delete(route)
    audit(db, actor=actor, entity="mail_route", entity_id=route_id, action="remove")

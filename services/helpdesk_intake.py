"""The help desk's intake: routing a category and topic to a team, opening a case
(the case row, its "created" event and the start of its workflow) with its attachments, and
the routing administration (routing rules and topic priorities are data).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.helpdesk import CaseStart, case_workflow_id
from domain.refusals import Conflict, Forbidden, Invalid, NotFound
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.helpdesk import (
    FIRST_CASE_NUMBER,
    Agent,
    Case,
    CaseEventRecord,
    Category,
    Requester,
    RoutingRule,
    Team,
    Topic,
)
from services import helpdesk_files
from services.helpdesk_files import FileIn, Upload
from services.temporal import TemporalGateway
from services.workflow_starts import promise_start
from workflows.case import CaseWorkflow

# --- intake -----------------------------------------------------------------------------------------


async def route(db: AsyncSession, category: Category, topic: Topic) -> Team:
    """The team for a category and topic: a topic rule, else the category's rule, else the default team."""
    rules = (
        await db.execute(
            select(RoutingRule).where(
                RoutingRule.category_id == category.id,
                (RoutingRule.topic_id == topic.id) | RoutingRule.topic_id.is_(None),
            )
        )
    ).scalars()
    chosen = sorted(rules, key=lambda rule: rule.topic_id is None)
    if chosen:
        team = await db.get(Team, chosen[0].team_id)
    else:
        team = (await db.execute(select(Team).where(Team.is_default).order_by(Team.id))).scalars().first()
    if team is None:
        raise Conflict("the help desk has no team to take this case; tell the administrator")
    return team


async def categories(*, db: AsyncSession) -> list[Category]:
    """The intake form's choices (data, changeable by help-desk administrators)."""
    return list((await db.execute(select(Category).order_by(Category.position, Category.id))).scalars())


async def category_and_topic(
    db: AsyncSession, category_code: str, topic_code: str | None
) -> tuple[Category, Topic | None]:
    """The category by code and, when a topic code is given, its topic; unknown codes are refused."""
    category = (await db.execute(select(Category).where(Category.code == category_code))).scalar_one_or_none()
    if category is None:
        raise Invalid("no such category", code="bad_category")
    if topic_code is None:
        return category, None
    topic = next((t for t in category.topics if t.code == topic_code), None)
    if topic is None:
        raise Invalid(f"no such topic in {category.name}", code="bad_topic")
    return category, topic


async def intake(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    requester: Requester,
    category: str,
    topic: str,
    subject: str,
    description: str,
    contact_phone: str,
    upload: Upload | None = None,
    files: Sequence[FileIn] = (),
) -> Case:
    """Opens a case: routed to a team by category and topic, prioritised by the topic. Its
    attachments (a JSON upload, or files from the page's form) are checked before anything is kept."""
    chosen_category, chosen_topic = await category_and_topic(db, category, topic)
    assert chosen_topic is not None
    attachments = helpdesk_files.checked(list(files), settings)
    if upload is not None:
        attachments.append(helpdesk_files.decoded(upload, settings))
    case = await open_case(
        db=db,
        settings=settings,
        temporal=temporal,
        requester=requester,
        category=chosen_category,
        topic=chosen_topic,
        subject=subject.strip(),
        description=description.strip(),
        contact_phone=contact_phone.strip(),
    )
    for given in attachments:
        await helpdesk_files.keep(db, settings, case, given, added_by=f"requester:{requester.id}")
    return case


async def open_case(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    requester: Requester,
    category: Category,
    topic: Topic,
    subject: str,
    description: str,
    contact_phone: str,
    linked_case: Case | None = None,
    channel: str = "web",
    opened_by: str | None = None,
) -> Case:
    """Adds the case and its "created" event; returns it and the start of its workflow,
    to run once the transaction has committed (the workflow owns the case from then on)."""
    team = await route(db, category, topic)
    now = utcnow()
    calendar = settings.helpdesk_calendar().to_dict()
    sla_targets = settings.helpdesk_targets().to_setting()
    case = Case(
        requester_id=requester.id,
        team_id=team.id,
        category_id=category.id,
        topic_id=topic.id,
        state="new",
        priority=topic.default_priority,
        subject=subject,
        description=description,
        contact_phone=contact_phone,
        linked_case_id=linked_case.id if linked_case else None,
        channel=channel,
        created_at=now,
        updated_at=now,
    )
    db.add(case)
    await db.flush()
    # Ids are unique and increasing on every database, so the number is too.
    case.number = FIRST_CASE_NUMBER - 1 + case.id
    db.add(
        CaseEventRecord(
            case_id=case.id,
            seq=1,
            at=now,
            kind="created",
            # An agent who opened it for a caller, else the requester.
            actor=opened_by or f"requester:{requester.id}",
            priority=case.priority,
            # The calendar and targets the case is measured by, fixed at intake like the workflow's.
            details={
                "team": team.name,
                "linked_case_number": linked_case.number if linked_case else None,
                "channel": channel,
                "calendar": calendar,
                "sla_targets": sla_targets,
            },
        )
    )
    base = settings.public_base_url.rstrip("/")
    start = CaseStart(
        case_id=case.id,
        number=case.number,
        created_at=now,
        priority=case.priority,
        language=requester.preferred_language,
        team_name=team.name,
        team_email=team.email,
        calendar=calendar,
        sla_targets=sla_targets,
        reopen_window_seconds=settings.helpdesk_reopen_window_seconds,
        auto_close_seconds=settings.helpdesk_auto_close_seconds,
        time_zone=settings.helpdesk_time_zone,
        requester_url=f"{base}/helpdesk/cases/{case.number}",
        agent_url=f"{base}/helpdesk/agent/cases/{case.number}",
        linked_number=linked_case.number if linked_case else None,
        survey_delay_seconds=settings.helpdesk_survey_delay_seconds or None,
    )

    # Promised in this transaction: the case's workflow starts after commit, or from the worker's
    # reconciler if Temporal is away then; no call to Temporal while the transaction holds a lock.
    await promise_start(
        db, temporal, None, run=CaseWorkflow.run, argument=start, workflow_id=case_workflow_id(start.number)
    )
    return case


# --- administration: routing rules and topic priorities are data ---------------------------------


def _require_admin(agent: Agent) -> None:
    if not agent.is_admin:
        raise Forbidden("only help-desk administrators change routing")


async def routing_rules(*, db: AsyncSession) -> list[tuple[Category, Topic | None, Team]]:
    rows = await db.execute(
        select(RoutingRule, Category, Topic, Team)
        .join(Category, Category.id == RoutingRule.category_id)
        .outerjoin(Topic, Topic.id == RoutingRule.topic_id)
        .join(Team, Team.id == RoutingRule.team_id)
        .order_by(Category.position, Topic.position)
    )
    return [(category, topic, team) for _rule, category, topic, team in rows.all()]


async def set_routing_rule(
    *, db: AsyncSession, agent: Agent, actor: str, category: str, topic: str | None, team_id: int
) -> tuple[Category, Team]:
    """Routes a category (or one of its topics) to a team; applies to cases opened from now on."""
    _require_admin(agent)
    chosen_category, chosen_topic = await category_and_topic(db, category, topic)
    team = await db.get(Team, team_id)
    if team is None:
        raise Invalid("no such team", code="bad_team")
    topic_id = chosen_topic.id if chosen_topic else None
    rule = (
        await db.execute(
            select(RoutingRule).where(
                RoutingRule.category_id == chosen_category.id,
                RoutingRule.topic_id == topic_id if topic_id else RoutingRule.topic_id.is_(None),
            )
        )
    ).scalar_one_or_none()
    before = rule.team_id if rule else None
    if rule is None:
        rule = RoutingRule(category_id=chosen_category.id, topic_id=topic_id, team_id=team.id)
        db.add(rule)
    rule.team_id = team.id
    await db.flush()
    audit(
        db,
        actor=actor,
        entity="routing_rule",
        entity_id=rule.id,
        action="set",
        changes={"team_id": [before, team.id]},
    )
    return chosen_category, team


async def set_topic_priority(
    *, db: AsyncSession, agent: Agent, actor: str, topic_id: int, default_priority: str
) -> Topic:
    """Sets the default priority new cases of this topic get."""
    _require_admin(agent)
    topic = await db.get(Topic, topic_id)
    if topic is None:
        raise NotFound("no such topic")
    before, topic.default_priority = topic.default_priority, default_priority
    audit(
        db,
        actor=actor,
        entity="topic",
        entity_id=topic.id,
        action="set_priority",
        changes={"default_priority": [before, topic.default_priority]},
    )
    return topic


async def set_names(
    *, db: AsyncSession, agent: Agent, actor: str, category: str, topic: str | None, name: str, name_es: str
) -> Category | Topic:
    """Renames a category (or one of its topics) in English and Spanish ("" Spanish: the English
    name is shown to Spanish readers too); cases keep pointing at the same row."""
    _require_admin(agent)
    chosen_category, chosen_topic = await category_and_topic(db, category, topic)
    row: Category | Topic = chosen_topic or chosen_category
    name, name_es = name.strip(), name_es.strip()
    if not name:
        raise Invalid("a name is required", code="bad_name")
    if len(name) > 100 or len(name_es) > 100:
        raise Invalid("a name is at most 100 characters", code="bad_name")
    before = {"name": row.name, "name_es": row.name_es}
    row.name, row.name_es = name, name_es
    await db.flush()
    audit(
        db,
        actor=actor,
        entity="topic" if chosen_topic else "category",
        entity_id=row.id,
        action="rename",
        changes={key: [before[key], getattr(row, key)] for key in before},
    )
    return row

"""Help-desk administration: teams and agents (an agent is a provider-side login with an agent
record and team memberships). Only a help-desk administrator changes them; every change is
audited. Routing rules and topic priorities are in `services.helpdesk_intake`, macros in
`services.helpdesk_desk`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Conflict, Forbidden, Invalid, NotFound
from domain.settings import Settings
from records.audit import audit
from records.helpdesk import Agent, Team, TeamMember
from records.users import User
from services.mail import queue_email
from services.temporal import TemporalGateway

ROLE_NAMES = {"en": "a help-desk agent", "es": "agente de la mesa de ayuda"}


def require_admin(agent: Agent) -> None:
    if not agent.is_admin:
        raise Forbidden("only a help-desk administrator manages teams and agents", code="not_admin")


# --- teams -------------------------------------------------------------------------------------------


async def save_team(
    *,
    db: AsyncSession,
    agent: Agent,
    actor: str,
    team_id: int | None,
    name: str,
    email: str,
    is_default: bool = False,
) -> Team:
    """Creates (no `team_id`) or changes a team; one team is the default (routing's fallback)."""
    require_admin(agent)
    name, email = name.strip(), email.strip().lower()
    if not name or "@" not in email:
        raise Invalid("a team has a name and an escalation email", code="bad_team")
    clash = (await db.execute(select(Team.id).where(Team.name == name))).scalar_one_or_none()
    if clash is not None and clash != team_id:
        raise Conflict("a team of that name exists", code="team_exists")
    if team_id is None:
        team = Team(name=name, email=email, is_default=False)
        db.add(team)
        await db.flush()
        before: dict[str, object] = {"name": None, "email": None, "is_default": None}
    else:
        found = await db.get(Team, team_id)
        if found is None:
            raise NotFound("no such team")
        team = found
        before = {"name": team.name, "email": team.email, "is_default": team.is_default}
        if team.is_default and not is_default:
            raise Conflict("make another team the default instead", code="default_team_needed")
    if is_default and not team.is_default:
        await db.execute(update(Team).where(Team.id != team.id).values(is_default=False))
    team.name, team.email, team.is_default = name, email, is_default
    after = {"name": name, "email": email, "is_default": is_default}
    changes = {key: [before[key], value] for key, value in after.items() if before[key] != value}
    audit(db, actor=actor, entity="helpdesk_team", entity_id=team.id, action="save", changes=changes)
    return team


# --- agents ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentRow:
    agent: Agent
    login_name: str
    email: str
    team_ids: list[int]


async def agents(*, db: AsyncSession) -> list[AgentRow]:
    rows = await db.execute(
        select(Agent, User).join(User, User.id == Agent.user_id).order_by(Agent.display_name)
    )
    members = await db.execute(select(TeamMember.agent_id, TeamMember.team_id))
    teams_of: dict[int, list[int]] = {}
    for agent_id, team_id in members.all():
        teams_of.setdefault(agent_id, []).append(team_id)
    return [
        AgentRow(agent=a, login_name=u.login_name, email=u.email, team_ids=sorted(teams_of.get(a.id, [])))
        for a, u in rows.all()
    ]


async def _check_teams(db: AsyncSession, team_ids: list[int]) -> None:
    """Refuses before anything is written: an agent works on at least one team, each real."""
    wanted = set(team_ids)
    known = set((await db.execute(select(Team.id).where(Team.id.in_(wanted)))).scalars())
    if not wanted or known != wanted:
        raise Invalid("choose at least one team; each must exist", code="bad_team")


async def _set_teams(db: AsyncSession, agent: Agent, team_ids: list[int]) -> list[int]:
    wanted = sorted(set(team_ids))
    before = sorted(
        (await db.execute(select(TeamMember.team_id).where(TeamMember.agent_id == agent.id))).scalars()
    )
    await db.execute(
        delete(TeamMember).where(TeamMember.agent_id == agent.id, TeamMember.team_id.not_in(wanted))
    )
    for team_id in set(wanted) - set(before):
        db.add(TeamMember(team_id=team_id, agent_id=agent.id))
    return before


async def add_agent(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    agent: Agent,
    actor: str,
    login_name: str,
    email: str,
    first_name: str,
    last_name: str,
    display_name: str,
    is_admin: bool,
    team_ids: list[int],
    preferred_language: str = "en",
) -> AgentRow:
    """Makes a login a help-desk agent on the given teams. An existing login is named with the
    email it has (as a location manager adds one); a new login gets an account and a set-up email."""
    require_admin(agent)
    await _check_teams(db, team_ids)
    user = (await db.execute(select(User).where(User.login_name == login_name))).scalar_one_or_none()
    created = user is None
    if user is not None:
        # The email it has first: whoever does not know it learns nothing about the login here.
        if user.email.strip().casefold() != email.strip().casefold():
            raise Conflict(
                "this login name is taken by someone else; to add them, give the email their login has",
                code="login_taken",
            )
        if (await db.execute(select(Agent.id).where(Agent.user_id == user.id))).first():
            raise Conflict("this login is an agent already; change the agent instead", code="agent_exists")
    else:
        user = User(
            login_name=login_name,
            email=email,
            first_name=first_name,
            last_name=last_name,
            preferred_language=preferred_language,
        )
        db.add(user)
        await db.flush()
        audit(
            db,
            actor=actor,
            entity="user",
            entity_id=user.id,
            action="create",
            changes={"login_name": [None, user.login_name], "email": [None, user.email]},
        )
    new = Agent(user_id=user.id, display_name=display_name.strip() or user.full_name, is_admin=is_admin)
    db.add(new)
    await db.flush()
    await _set_teams(db, new, team_ids)
    audit(
        db,
        actor=actor,
        entity="helpdesk_agent",
        entity_id=new.id,
        action="create",
        changes={
            "user_id": [None, user.id],
            "is_admin": [None, is_admin],
            "team_ids": [None, sorted(team_ids)],
        },
    )
    if created:
        language = user.preferred_language if user.preferred_language in ROLE_NAMES else "en"
        await queue_email(
            db,
            temporal,
            settings,
            key=f"user-{user.id}:account-setup",
            to=user.email,
            language=language,
            template="account_setup",
            context={
                "name": user.full_name,
                "login_name": user.login_name,
                "location_name": "cvms",
                "role": ROLE_NAMES[language],
            },
            set_password_for=("user", user.id),
        )
    return AgentRow(agent=new, login_name=user.login_name, email=user.email, team_ids=sorted(team_ids))


async def change_agent(
    *,
    db: AsyncSession,
    agent: Agent,
    actor: str,
    agent_id: int,
    display_name: str,
    is_admin: bool,
    is_active: bool,
    team_ids: list[int],
) -> AgentRow:
    """Changes an agent's name, administrator flag, teams, or ends their help-desk access."""
    require_admin(agent)
    found = await db.get(Agent, agent_id)
    if found is None:
        raise NotFound("no such agent")
    if found.id == agent.id and not (is_admin and is_active):
        raise Conflict("an administrator cannot remove their own administration", code="self_demotion")
    await _check_teams(db, team_ids)
    before = {"display_name": found.display_name, "is_admin": found.is_admin, "is_active": found.is_active}
    teams_before = await _set_teams(db, found, team_ids)
    found.display_name = display_name.strip() or found.display_name
    found.is_admin, found.is_active = is_admin, is_active
    after = {"display_name": found.display_name, "is_admin": is_admin, "is_active": is_active}
    changes: dict[str, list[object]] = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    if teams_before != sorted(set(team_ids)):
        changes["team_ids"] = [teams_before, sorted(set(team_ids))]
    audit(db, actor=actor, entity="helpdesk_agent", entity_id=found.id, action="update", changes=changes)
    user = await db.get(User, found.user_id)
    assert user is not None
    return AgentRow(agent=found, login_name=user.login_name, email=user.email, team_ids=sorted(set(team_ids)))

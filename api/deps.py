"""Typed dependencies every route states in its signature.

Every dependency is ``async def``, even the trivial ones: FastAPI runs a plain ``def`` in its
thread pool, a thread hop for each on every request."""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from api.errors import Forbidden, NotFound, Unauthorized
from api.origin import UNSAFE_METHODS, cookie_change_allowed
from api.permissions import Permission, allows
from domain.security import token_digest
from domain.settings import Settings
from records.db import READS_ONLY, transaction, utcnow
from records.db import after_commit as after_commit  # where api modules have found it
from records.helpdesk import Agent, Requester, TeamMember
from records.locations import Location
from records.users import LoginSession, User
from services import idempotency, telemetry
from services.access import extend_session, session_deadline, slide_due
from services.login_throttle import LoginThrottle
from services.temporal import TemporalGateway

SESSION_COOKIE = "cvms_session"


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_login_throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessions


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent and only
    when the route returned normally; the workflows it promised are tried after commit."""
    async with request.app.state.sessions() as session:
        async with session.begin():
            yield session
        for action in session.info.pop("after_commit", []):
            await action()


async def get_temporal(request: Request) -> TemporalGateway:
    settings: Settings = request.app.state.settings
    # Connected on first use within the gateway's deadline: a frozen Temporal cannot hold up a
    # request that never needs it.
    return TemporalGateway(
        request.app.state.temporal,
        settings.temporal_task_queue,
        deadline=settings.temporal_deadline_seconds,
        retry_after=settings.temporal_retry_after_seconds,
    )


async def public_route() -> None:
    """Marks a route as open without a provider login (log in, signed recipient links,
    health, help-desk sign-up). The authorization test requires every route to carry
    either this marker or an identity dependency, so nothing is public by accident."""


Public = Depends(public_route)

# Every record id in a path: a positive 32-bit integer (what both databases hold).
RecordId = Annotated[int, Path(ge=1, le=2_147_483_647)]
# The page of a long list a query asks for (?page=2).
PageNumber = Annotated[int, Query(ge=1, le=10_000)]

SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]


# For the few routes that manage their own short transactions (logins).
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 120


def _sent_key(header: str | None, raw: bytes) -> str | None:
    """The request's idempotency key: the header, else the JSON body's idempotency_key."""
    if header is not None:
        return header
    try:
        given = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    key = given.get("idempotency_key") if isinstance(given, dict) else None
    return key if isinstance(key, str) else None


async def _check_key(request: Request, db: AsyncSession, header: str | None) -> None:
    raw = await request.body()  # FastAPI has read it already: this is its cached copy
    key = _sent_key(header, raw)
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:  # too long: the header's own check refuses it
        return
    await idempotency.check_key(
        db,
        request=idempotency.request_digest(request.method, request.url.path),
        key=key,
        body=idempotency.body_digest(raw),
    )
    request.state.idempotency_checked = True


async def idempotency_key(
    request: Request,
    db: SessionDep,
    header: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            max_length=IDEMPOTENCY_KEY_MAX,
            description="Send the same key when retrying a request: it takes effect once. The same "
            "key with another body is refused (422 idempotency_key_reused).",
        ),
    ] = None,
) -> str | None:
    """The Idempotency-Key header, checked against the body the key first came with (in the
    request's transaction, unless a reading route checked it before its transaction began)."""
    if not getattr(request.state, "idempotency_checked", False):
        await _check_key(request, db, header)
    return header


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


async def _key_checked_first(request: Request, sessions: SessionsDep) -> None:
    # Before a reading transaction begins: its own short write, one connection at a time.
    header = request.headers.get(IDEMPOTENCY_HEADER)
    if _sent_key(header, await request.body()) is None:
        return
    async with transaction(sessions) as own:
        await _check_key(request, own, header)


async def reads_only(db: SessionDep, _key: Annotated[None, Depends(_key_checked_first)]) -> None:
    """For a route whose transaction only reads (a booking reads, then its workflow writes): on
    SQLite it no longer holds the one writer's lock, so a crowd of such requests runs side by side.
    Route dependencies are solved first, so this marks the transaction before it begins; an
    idempotency key is checked (a short write of its own) just before."""
    await db.connection(execution_options={READS_ONLY: True})


ReadsOnly = Depends(reads_only)
TemporalDep = Annotated[TemporalGateway, Depends(get_temporal)]
LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


@dataclass(frozen=True)
class Wiring:
    """What a service call takes from the request: its transaction, the session factory (for the
    services that read afresh after a workflow wrote), the settings and the Temporal gateway.
    ``**wiring.io`` passes db, settings and temporal; ``**wiring.io_sessions`` adds sessions."""

    db: AsyncSession
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    temporal: TemporalGateway

    @property
    def io(self) -> dict[str, Any]:
        return {"db": self.db, "settings": self.settings, "temporal": self.temporal}

    @property
    def io_sessions(self) -> dict[str, Any]:
        return {**self.io, "sessions": self.sessions}


async def get_wiring(
    db: SessionDep, sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep
) -> Wiring:
    return Wiring(db=db, sessions=sessions, settings=settings, temporal=temporal)


WiringDep = Annotated[Wiring, Depends(get_wiring)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


def _sent_bearer(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


async def _login_session(
    request: Request, db: AsyncSession, model: type[Any], column: str
) -> tuple[LoginSession, Any]:
    """The login of the request's token and the ``model`` row its ``column`` names (None when it
    names none or the row is gone), read together in one statement; a user comes with their
    memberships (and each one's location), which the role checks read."""
    token = bearer_token(request)
    if not token:
        raise Unauthorized("log in first")
    settings: Settings = request.app.state.settings
    # Another site can make a browser send our cookie, not name our origin nor know the CSRF token.
    if (
        request.method in UNSAFE_METHODS
        and not _sent_bearer(request)
        and not cookie_change_allowed(request.scope, settings, token, dict(request.cookies))
    ):
        raise Forbidden(
            "this change did not come from this site; send the CSRF token or a bearer token", code="csrf"
        )
    query = (
        select(LoginSession, model)
        .outerjoin(model, model.id == getattr(LoginSession, column))
        .where(LoginSession.token_hash == token_digest(token))
    )
    if model is User:
        query = query.options(joinedload(User.memberships))
    row = (await db.execute(query)).unique().first()
    login, owner = row if row is not None else (None, None)
    now = utcnow()
    if login is None or login.expires_at <= now:
        raise Unauthorized("your session has ended; log in again")
    deadline = session_deadline(settings, login.created_at, now)
    # Sliding idle expiry, written at most once a minute (after the request's own transaction).
    if slide_due(settings, login.expires_at, deadline):
        after_commit(db, partial(extend_session, request.app.state.sessions, login.token_hash, deadline))
    return login, owner


class _Acts:
    """``actor``: who acts, as the audit log and the workflows name them ("user:7")."""

    acts_as: ClassVar[str]

    @property
    def actor(self) -> str:
        return f"{self.acts_as}:{getattr(self, self.acts_as).id}"


@dataclass(frozen=True)
class CurrentUser(_Acts):
    acts_as = "user"
    user: User
    login: LoginSession


INACTIVE = "your account is not active"
NOT_A_PROVIDER_LOGIN = "this is a help-desk account; it has no access to the provider portal"
NOT_A_REQUESTER_LOGIN = "this needs a help-desk requester account; log in at /helpdesk/login"
REQUESTER_GONE = "your help-desk account no longer exists"
NOT_AN_AGENT_LOGIN = "this is a help-desk requester account; agent pages need an agent login"


async def _login_owner(
    request: Request, db: AsyncSession, model: type[Any], column: str, wrong_kind: str, gone: str = INACTIVE
) -> tuple[LoginSession, Any]:
    """The login and the active row it belongs to by ``column`` (a user or a help-desk requester):
    a login of the other kind is refused with 403 ``wrong_kind``, a missing or inactive owner 401 ``gone``."""
    login, owner = await _login_session(request, db, model, column)
    if getattr(login, column) is None:
        raise Forbidden(wrong_kind)
    if owner is None or not getattr(owner, "is_active", True):
        raise Unauthorized(gone)
    return login, owner


async def get_current_user(request: Request, db: SessionDep) -> CurrentUser:
    # A help-desk requester's login gives no access to the provider side.
    login, user = await _login_owner(request, db, User, "user_id", NOT_A_PROVIDER_LOGIN)
    return CurrentUser(user=user, login=login)


CurrentUserDep = Annotated[CurrentUser, Depends(get_current_user)]

ADMIN_ONLY = "only a programme administrator may do this"


async def require_admin(current: CurrentUserDep) -> CurrentUser:
    """A programme administrator's login (tied to no location): 401 without a login, 403
    ``admin_only`` for anyone else."""
    if not current.user.is_admin:
        raise Forbidden(ADMIN_ONLY, code="admin_only")
    return current


Admin = Annotated[CurrentUser, Depends(require_admin)]


@dataclass(frozen=True)
class Actor(_Acts):
    """A provider user acting at their active location with one role there."""

    acts_as = "user"

    user: User
    login: LoginSession
    location: Location
    role: str

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


class Require:
    """`Depends(Require(Permission.x))`: the active location's role must grant x.

    The permission is kept on the instance so the authorization test can read,
    for every route, what it demands.
    """

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, current: CurrentUserDep, db: SessionDep) -> Actor:
        location_id = current.login.active_location_id
        if location_id is None:
            raise Forbidden("choose an active location first")
        # Loaded with the login (one per location: the unique key of memberships).
        membership = next((m for m in current.user.memberships if m.location_id == location_id), None)
        if membership is None:
            raise Forbidden("you hold no role at your active location")
        if not allows(membership.role, self.permission):
            raise Forbidden(
                f"your role ({membership.role}) at {membership.location.name} "
                f"does not allow this ({self.permission.value})"
            )
        telemetry.note(location=membership.location.code)  # the request's log line names where
        return Actor(
            user=current.user, login=current.login, location=membership.location, role=membership.role
        )


Reader = Annotated[Actor, Depends(Require(Permission.read))]
Registrar = Annotated[Actor, Depends(Require(Permission.register))]
Documenter = Annotated[Actor, Depends(Require(Permission.document))]
Scheduler = Annotated[Actor, Depends(Require(Permission.schedule))]
Manager = Annotated[Actor, Depends(Require(Permission.manage))]


# --- help desk -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentRequester(_Acts):
    """A help-desk requester's login (never a provider's)."""

    acts_as = "requester"

    requester: Requester
    login: LoginSession


async def get_current_requester(request: Request, db: SessionDep) -> CurrentRequester:
    """A requester login, even one that must still replace its temporary password."""
    login, requester = await _login_owner(
        request, db, Requester, "requester_id", NOT_A_REQUESTER_LOGIN, REQUESTER_GONE
    )
    return CurrentRequester(requester=requester, login=login)


async def get_ready_requester(
    current: Annotated[CurrentRequester, Depends(get_current_requester)],
) -> CurrentRequester:
    """A requester who has replaced the temporary password: needed everywhere but /password."""
    if current.requester.must_change_password:
        raise Forbidden(
            "set your own password first (POST /helpdesk/password)", code="password_change_required"
        )
    return current


RequesterLoginDep = Annotated[CurrentRequester, Depends(get_current_requester)]
RequesterDep = Annotated[CurrentRequester, Depends(get_ready_requester)]


@dataclass(frozen=True)
class CurrentAgent(_Acts):
    """A help-desk agent: a user login whose user has an active agent record."""

    acts_as = "agent"

    agent: Agent
    user: User
    team_ids: frozenset[int]


async def get_current_agent(request: Request, db: SessionDep) -> CurrentAgent:
    _login, user = await _login_owner(request, db, User, "user_id", NOT_AN_AGENT_LOGIN)
    agent = (await db.execute(select(Agent).where(Agent.user_id == user.id))).scalar_one_or_none()
    if agent is None or not agent.is_active:
        raise Forbidden("you are not a help-desk agent")
    team_ids = (await db.execute(select(TeamMember.team_id).where(TeamMember.agent_id == agent.id))).scalars()
    return CurrentAgent(agent=agent, user=user, team_ids=frozenset(team_ids))


AgentDep = Annotated[CurrentAgent, Depends(get_current_agent)]


# --------------------------------------------------------------------------- records at the location


def at_active_location(
    model: Any,
    *,
    id_name: str,
    message: str,
    id_type: Any = RecordId,
    actor: Any = None,
    where: Callable[[Any, int], Any] | None = None,
    key: str = "id",
) -> Any:
    """A dependency that loads one ``model`` row by the path parameter ``id_name`` at the caller's
    active location, or refuses with 404 ``message`` (another location's record is not found).

    ``actor`` is the role dependency that may load it (Reader by default); ``where`` replaces the
    default ``model.location_id == location`` condition (e.g. a transfer seen by both ends);
    ``key`` is the column the path parameter names (a membership is found by its ``user_id``).
    """
    condition = where or (lambda m, location_id: m.location_id == location_id)

    async def load(**arguments: Any) -> Any:
        record_id, who, db = arguments[id_name], arguments["actor"], arguments["db"]
        row = (
            await db.execute(
                select(model).where(getattr(model, key) == record_id, condition(model, who.location.id))
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(message)
        return row

    keyword = inspect.Parameter.KEYWORD_ONLY
    load.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(id_name, keyword, annotation=id_type),
            inspect.Parameter("actor", keyword, annotation=actor or Reader),
            inspect.Parameter("db", keyword, annotation=SessionDep),
        ]
    )
    load.__name__ = f"load_{model.__tablename__}"
    return Annotated[model, Depends(load)]

"""Help-desk pages: requester sign-up, log in, first password, intake form, my cases with
their public notes, reply and reopen; the case page's single-purpose forms an agent posts
(assign to me, note, pending, resolve, reopen, open). The agent's queue and case page are in
`agent_pages`, administration in `admin_pages`.

They sit at the /helpdesk/… addresses the help-desk email links to, beside the JSON API,
and call the same services (`services.helpdesk*`): a browser gets the page, any other
client the JSON. Agents log in with their provider login (/portal/login)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.access.deps import client_host, device_cookie, set_device_cookie, set_session_cookie
from api.deps import (
    SESSION_COOKIE,
    AgentDep,
    LoginThrottleDep,
    Public,
    RequesterDep,
    RequesterLoginDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
    TemporalDep,
)
from api.errors import Unprocessable, http_status, retry_after
from api.helpdesk.deps import TeamCase
from api.helpdesk.schemas import (
    CaseSummary,
    CategoryOut,
    IntakeIn,
    MyCaseOut,
    NoteIn,
    PendingIn,
    RegisterIn,
    RequesterLoginIn,
    ResolveIn,
)
from api.pages.csrf import CheckedForm
from api.pages.form_files import form_files
from api.pages.i18n import N_, request_language
from api.pages.rendering import BrowserRoute, field_errors, redirect, render, safe_next
from domain.refusals import Refusal
from services import helpdesk, helpdesk_accounts, helpdesk_intake, helpdesk_views


class RequesterPageRoute(BrowserRoute):
    login_path = "/helpdesk/login"


class AgentPageRoute(BrowserRoute):
    login_path = "/portal/login"


router = APIRouter(prefix="/helpdesk", route_class=RequesterPageRoute, include_in_schema=False)
agent_router = APIRouter(prefix="/helpdesk/agent", route_class=AgentPageRoute, include_in_schema=False)

HELP_NOTICES = {
    "registered": N_("Check your email: we sent you a link to choose your password."),
    "password_ready": N_("Your password is set. Log in with it now."),
    "password_set": N_("Your password is set."),
    "case_opened": N_("Your case is open. We emailed you its number."),
    "replied": N_("Your reply is added to the case."),
    "reopened": N_("The case is open again."),
    "logged_out": N_("You are logged out."),
    "assigned": N_("The case is assigned."),
    "note_added": N_("The note is added."),
    "pending": N_("The case is waiting on the requester."),
    "resolved": N_("The case is resolved; the requester is emailed the notes."),
    "opened": N_("The case is open."),
    "phone_case_opened": N_("The case is open; the caller is emailed its number."),
    "phone_case_registered": N_(
        "The case is open; the caller is registered and emailed its number and how to set a password."
    ),
}
CASE_STATES = [
    ("new", N_("New")),
    ("open", N_("Open")),
    ("pending", N_("Waiting on you")),
    ("resolved", N_("Resolved")),
    ("closed", N_("Closed")),
]
# What the help-desk services say, as pages show it; listed so the catalog translates them.
SERVICE_MESSAGES = [
    N_("email or password is wrong"),
    N_("the current password is wrong"),
    N_("choose a new password"),
    N_("the registration code is not a provider PIN or the help desk's code"),
    N_("a help-desk account with this email exists; log in instead"),
    N_("no such case"),
    N_("no such case in your teams' queues"),
    N_("you are not a help-desk agent"),
    N_("this needs a help-desk requester account; log in at /helpdesk/login"),
]
SLA_BADGES = {
    "breached": ("bad", N_("SLA breached")),
    "at_risk": ("warn", N_("SLA at risk")),
    "ok": ("ok", N_("SLA on track")),
    "paused": ("ok", N_("SLA paused")),
    "met": ("ok", N_("SLA met")),
}

# One SLA clock's status, as the case page and the queue name it.
SLA_CLOCK_WORDS = {
    "met": N_("met"),
    "breached": N_("breached"),
    "paused": N_("paused"),
    "at_risk": N_("at risk"),
    "ok": N_("on track"),
    "idle": N_("no message waiting"),
}


def help_page(
    request: Request, template: str, *, time_zone: str, status_code: int = 200, **context: Any
) -> Response:
    settings = request.app.state.settings
    # A requester's pages speak the language their email does, unless the switch says otherwise.
    preferred = getattr(context.get("requester"), "preferred_language", None)
    return render(
        request,
        template,
        status_code=status_code,
        time_zone=time_zone,
        language=context.pop("language", None) or (preferred and request_language(request, preferred)),
        attachment_types=sorted(settings.helpdesk_attachment_type_list),
        attachment_max=f"{settings.helpdesk_attachment_max_bytes / 1_048_576:.3g} MB",
        # An agent page adds its own notices to the help desk's.
        notices=HELP_NOTICES | context.pop("extra_notices", {}),
        case_states=dict(CASE_STATES),
        sla_badges=SLA_BADGES,
        sla_clock_words=SLA_CLOCK_WORDS,
        **context,
    )


_page = help_page


def _text(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()


def _field_of(refusal: Refusal) -> str:
    """The intake form's field a refusal is about."""
    return "attachments" if (refusal.code or "").startswith("attachment_") else "topic"


# --- requester --------------------------------------------------------------------------------


@router.get("/register", dependencies=[Public])
async def register_page(request: Request, settings: SettingsDep) -> Response:
    return _page(request, "help/register.html", time_zone=settings.helpdesk_time_zone, form={}, errors={})


@router.post("/register", dependencies=[Public])
async def register_submit(
    request: Request, form: CheckedForm, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> Response:
    values = {name: _text(form, name) for name in ("first_name", "last_name", "email", "registration_code")}
    values["preferred_language"] = _text(form, "preferred_language") or "en"
    zone = settings.helpdesk_time_zone
    try:
        body = RegisterIn(**values)
    except ValidationError as exc:
        return _page(
            request,
            "help/register.html",
            time_zone=zone,
            status_code=422,
            form=values,
            errors=field_errors(exc),
        )
    try:
        await helpdesk_accounts.register(
            db=db,
            settings=settings,
            temporal=temporal,
            **body.model_dump(exclude={"email"}),
            email=str(body.email),
        )
    except Refusal as exc:
        return _page(
            request,
            "help/register.html",
            time_zone=zone,
            status_code=http_status(exc),
            form=values,
            errors={},
            failed=exc.message,
        )
    return redirect("/helpdesk/login?notice=registered")


@router.get("/login", dependencies=[Public])
async def login_page(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    return _page(
        request,
        "help/login.html",
        time_zone=settings.helpdesk_time_zone,
        email="",
        next=safe_next(next, "/helpdesk"),
    )


@router.post("/login", dependencies=[Public])
async def login_submit(
    request: Request,
    form: CheckedForm,
    sessions: SessionsDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> Response:
    email = _text(form, "email")
    target = safe_next(_text(form, "next"), "/helpdesk")
    try:
        body = RequesterLoginIn(email=email, password=str(form.get("password", "")))
        opened = await helpdesk_accounts.log_in(
            sessions=sessions,
            settings=settings,
            throttle=throttle,
            client=client_host(request),
            device_cookie=device_cookie(request),
            email=body.email,
            password=body.password,
        )
    except (ValidationError, Refusal) as exc:
        refusal = exc if isinstance(exc, Refusal) else None
        page = _page(
            request,
            "help/login.html",
            time_zone=settings.helpdesk_time_zone,
            status_code=http_status(refusal) if refusal else 401,
            email=email,
            next=target,
            failed=refusal.message if refusal else "email or password is wrong",
        )
        page.headers.update(retry_after(refusal) if refusal else {})
        return page
    response = redirect("/helpdesk/password" if opened.requester.must_change_password else target)
    set_session_cookie(response, opened.token, settings)
    set_device_cookie(response, opened.device_cookie, settings)
    return response


@router.post("/logout")
async def logout_submit(current: RequesterLoginDep, form: CheckedForm, db: SessionDep) -> Response:
    await helpdesk_accounts.log_out(db=db, login=current.login)
    response = redirect("/helpdesk/login?notice=logged_out")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("")
async def my_cases_page(
    request: Request, current: RequesterDep, db: SessionDep, settings: SettingsDep
) -> Response:
    cards = await helpdesk_views.requester_cases(db=db, requester=current.requester)
    return _page(
        request,
        "help/my_cases.html",
        time_zone=settings.helpdesk_time_zone,
        requester=current.requester,
        cases=[CaseSummary.of(card) for card in cards],
    )


async def _intake_page(
    request: Request,
    current: RequesterDep,
    db: SessionDep,
    settings: SettingsDep,
    *,
    status_code: int = 200,
    form: dict[str, str],
    errors: dict[str, str],
) -> Response:
    return _page(
        request,
        "help/intake.html",
        time_zone=settings.helpdesk_time_zone,
        status_code=status_code,
        requester=current.requester,
        categories=[CategoryOut.of(c) for c in await helpdesk_intake.categories(db=db)],
        form=form,
        errors=errors,
    )


@router.get("/cases/new")
async def intake_page(
    request: Request, current: RequesterDep, db: SessionDep, settings: SettingsDep
) -> Response:
    return await _intake_page(request, current, db, settings, form={}, errors={})


@router.post("/cases")
async def intake_submit(
    request: Request,
    current: RequesterDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    values = {name: _text(form, name) for name in ("topic", "subject", "description", "contact_phone")}
    category, _sep, topic = values["topic"].partition("/")
    try:
        body = IntakeIn(**{**values, "category": category, "topic": topic})
        case = await helpdesk_intake.intake(
            db=db,
            settings=settings,
            temporal=temporal,
            requester=current.requester,
            **body.model_dump(exclude={"attachment"}),
            files=await form_files(form),
        )
    except (ValidationError, Refusal) as exc:
        errors = field_errors(exc) if isinstance(exc, ValidationError) else {_field_of(exc): exc.message}
        return await _intake_page(request, current, db, settings, status_code=422, form=values, errors=errors)
    return redirect(f"/helpdesk/cases/{case.number}?notice=case_opened")


@router.get("/cases/{number}")
async def my_case_page(
    request: Request, number: int, current: RequesterDep, db: SessionDep, settings: SettingsDep
) -> Response:
    detail = await helpdesk_views.requester_case_detail(db=db, requester=current.requester, number=number)
    return _page(
        request,
        "help/my_case.html",
        time_zone=settings.helpdesk_time_zone,
        requester=current.requester,
        case=MyCaseOut.of_detail(detail),
    )


@router.post("/cases/{number}/reply")
async def reply_submit(
    number: int,
    current: RequesterDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    text = _text(form, "body")
    if not text:
        raise Unprocessable(N_("Write your reply first."))
    replied = await helpdesk.reply(
        db=db,
        settings=settings,
        temporal=temporal,
        requester=current.requester,
        actor=current.actor,
        number=number,
        body=text,
        files=await form_files(form),
    )
    return redirect(f"/helpdesk/cases/{replied.new_case_number or number}?notice=replied")


@router.post("/cases/{number}/reopen")
async def reopen_submit(
    number: int, current: RequesterDep, form: CheckedForm, db: SessionDep, temporal: TemporalDep
) -> Response:
    await helpdesk.requester_reopen(
        db=db, temporal=temporal, requester=current.requester, actor=current.actor, number=number
    )
    return redirect(f"/helpdesk/cases/{number}?notice=reopened")


# --- agent ------------------------------------------------------------------------------------


@agent_router.post("/cases/{number}/assign")
async def assign_submit(
    number: int, case: TeamCase, agent: AgentDep, form: CheckedForm, db: SessionDep, temporal: TemporalDep
) -> Response:
    await helpdesk.assign(
        case, agent=agent.agent, actor=agent.actor, assignee_id=None, db=db, temporal=temporal
    )
    return redirect(f"/helpdesk/agent/cases/{number}?notice=assigned")


def _note(form: Any) -> dict[str, Any]:
    text = _text(form, "body")
    if not text:
        raise Unprocessable(N_("Write the note first."))
    public = _text(form, "visibility") == "public"
    visibility: Literal["public", "internal"] = "public" if public else "internal"
    return NoteIn(body=text, visibility=visibility).model_dump(exclude={"attachments"})


def _question(form: Any) -> dict[str, Any]:
    return PendingIn(body=_text(form, "body")).model_dump()


def _resolution(form: Any) -> dict[str, Any]:
    text = _text(form, "resolution")
    if not text:
        raise Unprocessable(N_("Write the resolution notes first."))
    return {"body": ResolveIn(resolution=text).resolution}


# The case page's other forms, each a POST to /helpdesk/agent/cases/{number}/<path>:
# (path, route name, action kind, notice shown after it, what the action takes from the form).
CASE_FORMS: list[tuple[str, str, str, str, Callable[[Any], dict[str, Any]]]] = [
    ("notes", "note_submit", "note", "note_added", _note),
    ("pending", "pending_submit", "pending", "pending", _question),
    ("resolve", "resolve_submit", "resolve", "resolved", _resolution),
    ("reopen", "agent_reopen_submit", "reopen", "opened", lambda form: {}),
    ("open", "agent_open_submit", "open", "opened", lambda form: {}),
]


def _case_form(path: str, name: str, kind: str, notice: str, read: Callable[[Any], dict[str, Any]]) -> None:
    async def submit(
        number: int,
        case: TeamCase,
        agent: AgentDep,
        form: CheckedForm,
        db: SessionDep,
        settings: SettingsDep,
        temporal: TemporalDep,
    ) -> Response:
        values = read(form)
        if kind == "note":
            values.update(files=await form_files(form), settings=settings)
        await helpdesk.agent_act(
            case, kind, agent=agent.agent, actor=agent.actor, db=db, temporal=temporal, **values
        )
        return redirect(f"/helpdesk/agent/cases/{number}?notice={notice}")

    submit.__name__ = name
    agent_router.add_api_route(f"/cases/{{number}}/{path}", submit, methods=["POST"], name=name)


for case_form in CASE_FORMS:
    _case_form(*case_form)

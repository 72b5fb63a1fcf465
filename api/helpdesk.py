"""The help desk, requester side: accounts, intake (routing), my cases, replies, reopen.

Requester accounts are not provider logins: they register with a location's
provider PIN or the help desk's generic code, receive a temporary password by
email (logging in with it confirms the address) and must set their own
password before anything else. Case changes go to the case workflow as
Workflow Updates (`api.helpdesk_service.act`); reads come from the records.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta

from fastapi import APIRouter, Response
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.deps import (
    SESSION_COOKIE,
    Public,
    RequesterDep,
    RequesterLoginDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    after_commit,
)
from api.errors import Conflict, NotFound, Unauthorized, Unprocessable
from api.helpdesk_service import (
    CaseSummary,
    NoteOut,
    act,
    attachment_response,
    open_case,
    summarize,
)
from domain.helpdesk import CaseAction
from domain.security import hash_password, new_token, token_digest, verify_password
from records.audit import audit
from records.db import utcnow
from records.helpdesk import Case, CaseAttachment, CaseNote, Category, Requester, Topic
from records.locations import Location
from records.users import LoginSession
from services.mail import queue_email

router = APIRouter(prefix="/helpdesk", tags=["help desk"])


class RegisterIn(BaseModel):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr = Field(description="Business email: the login name of the account")
    registration_code: str = Field(
        min_length=1, max_length=64, description="Your location's provider PIN or the help desk's code"
    )
    preferred_language: str = Field(default="en", pattern="^(en|es)$")


class RegisteredOut(BaseModel):
    email: str
    message: str


class RequesterLoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class RequesterOut(BaseModel):
    requester_id: int
    name: str
    email: str
    preferred_language: str
    confirmed: bool
    must_change_password: bool


class RequesterLoginOut(RequesterOut):
    token: str
    expires_at: str


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class TopicOut(BaseModel):
    id: int
    code: str
    name: str
    default_priority: str


class CategoryOut(BaseModel):
    code: str
    name: str
    topics: list[TopicOut]


class AttachmentIn(BaseModel):
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(min_length=3, max_length=100)
    content_base64: str


class IntakeIn(BaseModel):
    category: str = Field(description="Category code, e.g. 'vaccine-provider'")
    topic: str = Field(description="Topic code within the category, e.g. 'login-access'")
    subject: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=1, max_length=20000)
    contact_phone: str = Field(default="", max_length=40)
    attachment: AttachmentIn | None = None


class ReplyIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int


class MyCaseOut(CaseSummary):
    description: str
    contact_phone: str
    public_notes: list[NoteOut]
    attachments: list[AttachmentOut]


class ReplyOut(BaseModel):
    number: int
    state: str
    # Set when the case was closed and the reply opened a new one linked to it.
    new_case_number: int | None = None


def _describe(requester: Requester) -> RequesterOut:
    return RequesterOut(
        requester_id=requester.id,
        name=requester.full_name,
        email=requester.email,
        preferred_language=requester.preferred_language,
        confirmed=requester.confirmed,
        must_change_password=requester.must_change_password,
    )


@router.post("/register", dependencies=[Public], status_code=202, response_model=RegisteredOut)
async def register(
    body: RegisterIn, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> RegisteredOut:
    """Creates a help-desk account and emails its temporary password."""
    code = body.registration_code.strip()
    location_id = None
    if not secrets.compare_digest(
        code.upper().encode(), settings.helpdesk_registration_code.upper().encode()
    ):
        location_id = (
            await db.execute(select(Location.id).where(func.upper(Location.provider_pin) == code.upper()))
        ).scalar_one_or_none()
        if location_id is None:
            raise Unprocessable(
                "the registration code is not a provider PIN or the help desk's code",
                code="bad_registration_code",
            )
    email = str(body.email).strip().lower()
    if (await db.execute(select(Requester.id).where(Requester.email == email))).first() is not None:
        raise Conflict("a help-desk account with this email exists; log in instead", code="account_exists")
    temporary_password = secrets.token_urlsafe(9)
    requester = Requester(
        first_name=body.first_name.strip(),
        last_name=body.last_name.strip(),
        email=email,
        password_hash=hash_password(temporary_password),
        must_change_password=True,
        confirmed=False,
        preferred_language=body.preferred_language,
        location_id=location_id,
    )
    db.add(requester)
    try:
        await db.flush()
    except IntegrityError as exc:  # registered concurrently
        raise Conflict("a help-desk account with this email exists", code="account_exists") from exc
    audit(
        db, actor=f"requester:{requester.id}", entity="requester", entity_id=requester.id, action="register"
    )
    await queue_email(
        db,
        temporal,
        settings,
        key=f"requester-{requester.id}:confirm",
        to=email,
        language=requester.preferred_language,
        template="helpdesk_account",
        context={
            "name": requester.full_name,
            "email": email,
            "temporary_password": temporary_password,
            "login_url": f"{settings.public_base_url}/helpdesk/login",
        },
    )
    return RegisteredOut(email=email, message="check your email for your temporary password")


@router.post("/login", dependencies=[Public], response_model=RequesterLoginOut)
async def requester_login(
    body: RequesterLoginIn, response: Response, db: SessionDep, settings: SettingsDep
) -> RequesterLoginOut:
    email = str(body.email).strip().lower()
    requester = (await db.execute(select(Requester).where(Requester.email == email))).scalar_one_or_none()
    if not verify_password(requester.password_hash if requester else None, body.password) or not requester:
        raise Unauthorized("email or password is wrong")
    # Only the emailed temporary password can be the first: logging in with it proves the address.
    requester.confirmed = True
    token = new_token()
    expires = utcnow() + timedelta(hours=settings.session_hours)
    db.add(LoginSession(token_hash=token_digest(token), requester_id=requester.id, expires_at=expires))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https"),
        max_age=int(settings.session_hours * 3600),
    )
    return RequesterLoginOut(**_describe(requester).model_dump(), token=token, expires_at=expires.isoformat())


@router.post("/password", response_model=RequesterOut)
async def change_password(body: PasswordIn, current: RequesterLoginDep, db: SessionDep) -> RequesterOut:
    """Replaces the temporary (or current) password; required before any other help-desk call."""
    requester = current.requester
    if not verify_password(requester.password_hash, body.current_password):
        raise Unauthorized("the current password is wrong")
    if body.new_password == body.current_password:
        raise Unprocessable("choose a new password", code="same_password")
    requester.password_hash = hash_password(body.new_password)
    requester.must_change_password = False
    audit(db, actor=current.actor, entity="requester", entity_id=requester.id, action="set_password")
    return _describe(requester)


@router.get("/me", response_model=RequesterOut)
async def requester_me(current: RequesterLoginDep) -> RequesterOut:
    return _describe(current.requester)


@router.post("/logout", status_code=204)
async def requester_logout(current: RequesterLoginDep, response: Response, db: SessionDep) -> Response:
    await db.delete(current.login)
    response.delete_cookie(SESSION_COOKIE)
    response.status_code = 204
    return response


@router.get("/categories", dependencies=[Public], response_model=list[CategoryOut])
async def categories(db: SessionDep) -> list[CategoryOut]:
    """The intake form's choices (data, changeable by help-desk administrators)."""
    rows = (await db.execute(select(Category).order_by(Category.position, Category.id))).scalars()
    return [
        CategoryOut(
            code=c.code,
            name=c.name,
            topics=[
                TopicOut(id=t.id, code=t.code, name=t.name, default_priority=t.default_priority)
                for t in c.topics
            ],
        )
        for c in rows
    ]


@router.post("/cases", status_code=201, response_model=CaseSummary)
async def intake(
    body: IntakeIn, current: RequesterDep, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> CaseSummary:
    """Opens a case: routed to a team by category and topic, prioritised by the topic."""
    category = (await db.execute(select(Category).where(Category.code == body.category))).scalar_one_or_none()
    if category is None:
        raise Unprocessable("no such category", code="bad_category")
    topic = next((t for t in category.topics if t.code == body.topic), None)
    if topic is None:
        raise Unprocessable(f"no such topic in {category.name}", code="bad_topic")
    attachment = _checked_attachment(body.attachment, settings) if body.attachment else None
    case, start = await open_case(
        db,
        settings,
        temporal,
        requester=current.requester,
        category=category,
        topic=topic,
        subject=body.subject.strip(),
        description=body.description.strip(),
        contact_phone=body.contact_phone.strip(),
    )
    if attachment is not None:
        db.add(CaseAttachment(case_id=case.id, **attachment))
    after_commit(db, start)
    return await summarize(db, case)


def _checked_attachment(given: AttachmentIn, settings: SettingsDep) -> dict[str, object]:
    content_type = given.content_type.strip().lower()
    if content_type not in settings.helpdesk_attachment_type_list:
        allowed = ", ".join(sorted(settings.helpdesk_attachment_type_list))
        raise Unprocessable(f"attachments must be one of: {allowed}", code="attachment_type")
    # Decoded size is about 3/4 of the text: refuse oversized text before decoding it.
    if len(given.content_base64) > (settings.helpdesk_attachment_max_bytes * 4) // 3 + 4:
        raise Unprocessable(_too_large(settings), code="attachment_size")
    try:
        data = base64.b64decode(given.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable("the attachment is not valid base64", code="attachment_encoding") from exc
    if len(data) > settings.helpdesk_attachment_max_bytes:
        raise Unprocessable(_too_large(settings), code="attachment_size")
    filename = given.filename.replace("/", "_").replace("\\", "_").strip()
    return {"filename": filename, "content_type": content_type, "size": len(data), "data": data}


def _too_large(settings: SettingsDep) -> str:
    return f"attachments may be at most {settings.helpdesk_attachment_max_bytes} bytes"


async def _my_case(db: SessionDep, current: RequesterDep, number: int) -> Case:
    case = (
        await db.execute(select(Case).where(Case.number == number, Case.requester_id == current.requester.id))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound("no such case")
    return case


@router.get("/cases", response_model=list[CaseSummary])
async def my_cases(current: RequesterDep, db: SessionDep) -> list[CaseSummary]:
    cases = (
        await db.execute(
            select(Case).where(Case.requester_id == current.requester.id).order_by(Case.id.desc())
        )
    ).scalars()
    return [await summarize(db, case) for case in cases]


@router.get("/cases/{number}", response_model=MyCaseOut)
async def my_case(number: int, current: RequesterDep, db: SessionDep) -> MyCaseOut:
    """My case with its state and public notes (internal notes never appear here)."""
    case = await _my_case(db, current, number)
    notes = (
        await db.execute(
            select(CaseNote)
            .where(CaseNote.case_id == case.id, CaseNote.visibility == "public")
            .order_by(CaseNote.seq)
        )
    ).scalars()
    attachments = (
        await db.execute(select(CaseAttachment).where(CaseAttachment.case_id == case.id))
    ).scalars()
    return MyCaseOut(
        **(await summarize(db, case)).model_dump(),
        description=case.description,
        contact_phone=case.contact_phone,
        public_notes=[NoteOut.of(note) for note in notes],
        attachments=[
            AttachmentOut(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size)
            for a in attachments
        ],
    )


@router.get("/cases/{number}/attachments/{attachment_id}")
async def my_attachment(number: int, attachment_id: int, current: RequesterDep, db: SessionDep) -> Response:
    case = await _my_case(db, current, number)
    return await attachment_response(db, case, attachment_id)


@router.post("/cases/{number}/reply", response_model=ReplyOut)
async def reply(
    number: int,
    body: ReplyIn,
    current: RequesterDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
) -> ReplyOut:
    """A public note from the requester; a pending case goes back to open. A reply to a
    closed case opens a new case linked to it."""
    case = await _my_case(db, current, number)
    if case.state == "closed":
        category = await db.get(Category, case.category_id)
        topic = await db.get(Topic, case.topic_id)
        assert category is not None and topic is not None
        new_case, start = await open_case(
            db,
            settings,
            temporal,
            requester=current.requester,
            category=category,
            topic=topic,
            subject=f"Re: {case.subject}"[:200],
            description=body.body.strip(),
            contact_phone=case.contact_phone,
            linked_case=case,
        )
        after_commit(db, start)
        response.status_code = 201
        return ReplyOut(number=case.number or 0, state=case.state, new_case_number=new_case.number)
    view = await act(
        db,
        temporal,
        case,
        CaseAction(kind="reply", actor=current.actor, actor_name=current.requester.full_name, body=body.body),
    )
    return ReplyOut(number=view.number, state=view.state)


@router.post("/cases/{number}/reopen", response_model=ReplyOut)
async def requester_reopen(
    number: int, current: RequesterDep, db: SessionDep, temporal: TemporalDep
) -> ReplyOut:
    """Reopens my resolved case within the reopen window (409 outside it)."""
    case = await _my_case(db, current, number)
    view = await act(
        db,
        temporal,
        case,
        CaseAction(kind="reopen", actor=current.actor, actor_name=current.requester.full_name),
    )
    return ReplyOut(number=view.number, state=view.state)

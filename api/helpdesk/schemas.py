"""The help desk's request and response models (requester and agent sides), each answer
shaped from what `services.helpdesk` returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, EmailStr, Field

from api.shaping import from_attributes
from domain.sla import PRIORITIES
from domain.text import Line, Paragraph
from records.helpdesk import (
    CaseAttachment,
    CaseEventRecord,
    CaseNote,
    Category,
    Requester,
    Topic,
    localized_name,
)
from records.helpdesk_mail import MailRoute
from services.helpdesk_views import AgentCaseDetail, CaseCard, CaseDetail, QueueEntry, SlaStatus, sla_status

# --- requester accounts ---------------------------------------------------------------------------


class RegisterIn(BaseModel):
    first_name: Line = Field(min_length=1, max_length=100)
    last_name: Line = Field(min_length=1, max_length=100)
    email: EmailStr = Field(description="Business email: the login name of the account")
    registration_code: Line = Field(
        min_length=1, max_length=64, description="Your location's provider PIN or the help desk's code"
    )
    preferred_language: Line = Field(default="en", pattern="^(en|es)$")


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

    @classmethod
    def of(cls, requester: Requester) -> RequesterOut:
        return from_attributes(cls, requester, requester_id=requester.id, name=requester.full_name)


class RequesterLoginOut(RequesterOut):
    token: str
    expires_at: str


class RequesterSetPasswordIn(BaseModel):
    token: str = Field(min_length=10, max_length=2000)
    password: str = Field(min_length=10, max_length=200)


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


# --- intake and the requester's cases -------------------------------------------------------------


NAME_ES = "The Spanish name ('' when it has none: Spanish pages show the English one)"


class TopicOut(BaseModel):
    id: int
    code: str
    name: str
    name_es: str = Field(default="", description=NAME_ES)
    default_priority: str

    def name_in(self, language: str) -> str:
        return localized_name(self.name, self.name_es, language)


class CategoryOut(BaseModel):
    code: str
    name: str
    name_es: str = Field(default="", description=NAME_ES)
    topics: list[TopicOut]

    def name_in(self, language: str) -> str:
        return localized_name(self.name, self.name_es, language)

    @classmethod
    def of(cls, category: Category) -> CategoryOut:
        return cls(
            code=category.code,
            name=category.name,
            name_es=category.name_es,
            topics=[
                TopicOut(
                    id=t.id, code=t.code, name=t.name, name_es=t.name_es, default_priority=t.default_priority
                )
                for t in category.topics
            ],
        )


class AttachmentIn(BaseModel):
    filename: Line = Field(min_length=1, max_length=200)
    content_type: Line = Field(min_length=3, max_length=100)
    content_base64: str


class IntakeIn(BaseModel):
    category: Line = Field(description="Category code, e.g. 'vaccine-provider'")
    topic: Line = Field(description="Topic code within the category, e.g. 'login-access'")
    subject: Line = Field(min_length=3, max_length=200)
    description: Paragraph = Field(min_length=1, max_length=20000)
    contact_phone: Line = Field(default="", max_length=40)
    attachment: AttachmentIn | None = None


ATTACHMENTS_FIELD = "Files to attach (base64), within the attachment type and size limits"


class ReplyIn(BaseModel):
    body: Paragraph = Field(min_length=1, max_length=20000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=5, description=ATTACHMENTS_FIELD)


class CaseSummary(BaseModel):
    number: int
    subject: str
    state: str
    priority: str
    category: str
    topic: str
    category_es: str = Field(default="", description=NAME_ES)
    topic_es: str = Field(default="", description=NAME_ES)
    team: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    linked_case_number: int | None
    channel: str = Field(default="web", description="How the case came in: web, email or phone")

    def category_in(self, language: str) -> str:
        return localized_name(self.category, self.category_es, language)

    def topic_in(self, language: str) -> str:
        return localized_name(self.topic, self.topic_es, language)

    @classmethod
    def of(cls, card: CaseCard) -> CaseSummary:
        case = card.case
        return from_attributes(
            cls,
            case,
            number=case.number or 0,
            category=card.category,
            topic=card.topic,
            category_es=card.category_es,
            topic_es=card.topic_es,
            team=card.team,
            linked_case_number=card.linked_case_number,
        )


class NoteOut(BaseModel):
    at: datetime
    author: str
    visibility: str
    purpose: str
    body: str

    @classmethod
    def of(cls, note: CaseNote) -> NoteOut:
        return from_attributes(cls, note, author=note.author_name)


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int

    @classmethod
    def of(cls, attachment: CaseAttachment) -> AttachmentOut:
        return from_attributes(cls, attachment)


class MyCaseOut(CaseSummary):
    description: str
    contact_phone: str
    public_notes: list[NoteOut]
    attachments: list[AttachmentOut]

    @classmethod
    def of_detail(cls, detail: CaseDetail) -> MyCaseOut:
        return cls(
            **CaseSummary.of(detail.card).model_dump(),
            description=detail.card.case.description,
            contact_phone=detail.card.case.contact_phone,
            public_notes=[NoteOut.of(note) for note in detail.notes],
            attachments=[AttachmentOut.of(a) for a in detail.attachments],
        )


class ReplyOut(BaseModel):
    number: int
    state: str
    # Set when the case was closed and the reply opened a new one linked to it.
    new_case_number: int | None = None


# --- agents -----------------------------------------------------------------------------------------


class TeamOut(BaseModel):
    id: int
    name: str


class AgentOut(BaseModel):
    agent_id: int
    name: str
    is_admin: bool
    teams: list[TeamOut]


class QueueItem(CaseSummary):
    assignee_id: int | None
    assignee: str | None
    requester: str
    sla_status: SlaStatus
    first_response_breached: bool
    resolution_breached: bool
    next_update_breached: bool = False
    next_due_at: datetime | None
    sla: dict[str, Any]

    @classmethod
    def of_entry(cls, entry: QueueEntry) -> QueueItem:
        case, sla = entry.card.case, entry.sla
        return cls(
            **CaseSummary.of(entry.card).model_dump(),
            assignee_id=case.assignee_id,
            assignee=entry.assignee.display_name if entry.assignee else None,
            requester=entry.requester.full_name,
            sla_status=sla_status(sla),
            first_response_breached=case.first_response_breached,
            resolution_breached=case.resolution_breached,
            next_update_breached=case.next_update_breached,
            next_due_at=sla.next_breach_instant if sla else None,
            sla=sla.to_dict() if sla else {},
        )


class EventOut(BaseModel):
    # Another EventOut (inventory) makes the OpenAPI component name carry the module: keep the
    # one this model had before it moved, so the published document does not change.
    __module__ = "api.helpdesk_agent"

    seq: int
    at: datetime
    kind: str
    actor: str
    priority: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, e: CaseEventRecord) -> EventOut:
        return from_attributes(cls, e)


# Built again here: its annotations are this module's names, not those of the module it claims.
EventOut.model_rebuild()


class SatisfactionOut(BaseModel):
    rating: Literal["good", "bad"] | None = Field(description="None: asked, not answered yet")
    comment: str
    asked_at: datetime
    rated_at: datetime | None


class AgentCaseOut(QueueItem):
    description: str
    contact_phone: str
    requester_email: str
    notes: list[NoteOut]
    events: list[EventOut]
    attachments: list[dict[str, Any]]
    satisfaction: SatisfactionOut | None = None

    @classmethod
    def of_detail(cls, detail: AgentCaseDetail) -> AgentCaseOut:
        case = detail.card.case
        return cls(
            **QueueItem.of_entry(detail.entry).model_dump(),
            description=case.description,
            contact_phone=case.contact_phone,
            requester_email=detail.entry.requester.email,
            notes=[NoteOut.of(n) for n in detail.notes],
            events=[EventOut.of(e) for e in detail.events],
            attachments=[AttachmentOut.of(a).model_dump() for a in detail.attachments],
            satisfaction=(
                SatisfactionOut.model_validate(detail.satisfaction, from_attributes=True)
                if detail.satisfaction
                else None
            ),
        )


class AssignIn(BaseModel):
    agent_id: int | None = Field(default=None, description="A teammate; empty assigns to me")


class NoteIn(BaseModel):
    body: Paragraph = Field(min_length=1, max_length=20000)
    visibility: Literal["public", "internal"] = "internal"
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=5, description=ATTACHMENTS_FIELD)


class PendingIn(BaseModel):
    body: Paragraph = Field(default="", max_length=20000, description="Question to the requester (public)")


class ResolveIn(BaseModel):
    resolution: Paragraph = Field(min_length=1, max_length=20000)


class PriorityIn(BaseModel):
    priority: Line = Field(pattern="^(" + "|".join(PRIORITIES) + ")$")


class RoutingRuleIn(BaseModel):
    category: str
    topic: Line | None = Field(default=None, description="Empty: the rule for the whole category")
    team_id: int


class RoutingRuleOut(BaseModel):
    category: str
    topic: str | None
    team_id: int
    team: str


class TopicPriorityIn(BaseModel):
    default_priority: Line = Field(pattern="^(" + "|".join(PRIORITIES) + ")$")


class CallerOut(BaseModel):
    requester_id: int
    email: str
    first_name: str
    last_name: str
    preferred_language: str

    @classmethod
    def of(cls, requester: Requester) -> CallerOut:
        return from_attributes(cls, requester, requester_id=requester.id)


class PhoneCaseIn(BaseModel):
    caller_email: EmailStr = Field(description="The caller's help-desk account, found or registered")
    first_name: Line = Field(default="", max_length=100, description="Needed when the caller has no account")
    last_name: Line = Field(default="", max_length=100, description="Needed when the caller has no account")
    preferred_language: Line = Field(default="en", pattern="^(en|es)$")
    category: Line = Field(description="Category code, e.g. 'vaccine-provider'")
    topic: Line = Field(description="Topic code within the category, e.g. 'login-access'")
    subject: Line = Field(min_length=3, max_length=200)
    call_notes: Paragraph = Field(min_length=1, max_length=20000, description="What the caller said")
    contact_phone: Line = Field(default="", max_length=40)
    attachment: AttachmentIn | None = None


class PhoneCaseOut(CaseSummary):
    requester_email: str = ""
    requester_registered: bool = Field(
        default=False, description="The caller had no account: one was made and its email sent"
    )


class MailRouteIn(BaseModel):
    address: Line = Field(default="", max_length=254, description="Recipient address; empty: any")
    subject_contains: Line = Field(default="", max_length=200, description="Words in the subject; empty: any")
    category: Line = Field(description="Category code of the cases it opens")
    topic: Line = Field(description="Topic code within the category")
    position: int = Field(default=0, ge=0, le=10_000, description="Routes are tried by position")


class MailRouteOut(BaseModel):
    id: int
    position: int
    address: str
    subject_contains: str
    category: str
    topic: str

    @classmethod
    def of(cls, route: MailRoute, category: Category, topic: Topic) -> MailRouteOut:
        return from_attributes(cls, route, category=category.code, topic=topic.code)


# --- the agent workspace: reply box, team, macros, presence ----------------------------------------

PriorityOrKeep = Literal["", "urgent", "high", "normal", "low"]
# A record id or case number in a body (the database's integer range).
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]


class ReplyBoxIn(BaseModel):
    body: Paragraph = Field(default="", max_length=20000, description="Empty only to wait with no question")
    visibility: Literal["public", "internal"] = "public"
    then: Literal["", "pending", "resolved"] = Field(
        default="", description="Then wait on the requester or resolve"
    )
    priority: PriorityOrKeep = Field(default="", description="A new priority; empty keeps it")
    macro_id: Id | None = Field(
        default=None,
        description="A macro of the case's team: its text (when body is empty), state and priority",
    )


class TeamChangeIn(BaseModel):
    team_id: Id


class PresenceIn(BaseModel):
    replying: bool = False


class PresenceOut(BaseModel):
    agent: str
    replying: bool


class TeamAgentOut(BaseModel):
    agent_id: int
    name: str


class MergeIn(BaseModel):
    into: Id = Field(description="The number of the case this duplicate merges into")


class LinkIn(BaseModel):
    number: Id = Field(description="The number of the related case")


class RelatedCaseOut(BaseModel):
    number: int
    subject: str
    state: str


# --- administration: teams and agents ---------------------------------------------------------------

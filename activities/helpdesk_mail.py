"""Case email composed at sending time: the case workflow names the case, the notes (by their text
ids) and the actors; this reads the requester's address and name, the subject and the texts."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import ApplicationError

from domain.email import EmailRequest
from domain.helpdesk import CASE_MAIL, SURVEY_LINK
from records.helpdesk import Case, CaseText, Category, Requester, Topic, actor_name
from records.helpdesk_survey import CaseSurvey


async def compose_case_email(db: AsyncSession, request: EmailRequest) -> EmailRequest:
    """The message the case workflow asked for, with what it left out filled in from the database."""
    values: dict[str, Any] = dict(request.context)
    case = await db.get(Case, int(values.pop(CASE_MAIL)))
    requester = await db.get(Requester, case.requester_id) if case is not None else None
    if case is None or requester is None:
        raise ApplicationError(f"the case of {request.key} no longer exists", non_retryable=True)
    text_ids = [n.get("text_id") for n in values.get("public_notes", [])]
    text_ids += [values.get(name) for name in ("note_text_id", "resolution_text_id")]
    wanted = [i for i in text_ids if i]
    rows = await db.execute(select(CaseText.id, CaseText.body).where(CaseText.id.in_(wanted)))
    texts: dict[Any, str] = {text_id: body for text_id, body in rows}
    values["public_notes"] = [
        {
            "at": n["at"],
            "author": await actor_name(db, n["author"]),
            "body": texts.get(n.get("text_id"), n.get("body", "")),
            "purpose": n["purpose"],
        }
        for n in values.get("public_notes", [])
    ]
    for ref, name in (("note_text_id", "note"), ("resolution_text_id", "resolution")):
        if ref in values:
            values[name] = texts.get(values.pop(ref), "")
    if "reopened_by_actor" in values:
        values["reopened_by"] = await actor_name(db, values.pop("reopened_by_actor"))
    if request.template == "case_survey":
        values[SURVEY_LINK] = await survey_id(db, case.id)
    category = await db.get(Category, case.category_id)
    topic = await db.get(Topic, case.topic_id)
    language = request.language or requester.preferred_language
    values.update(
        subject=case.subject,
        name=requester.full_name,
        category=category.name_in(language) if category else "",
        topic=topic.name_in(language) if topic else "",
    )
    return dataclasses.replace(request, to=request.to or requester.email, context=values)


async def survey_id(db: AsyncSession, case_id: int) -> int:
    """The case's one survey, made as its email is first composed (the links name it, never a token)."""
    found = (await db.execute(select(CaseSurvey).where(CaseSurvey.case_id == case_id))).scalar_one_or_none()
    if found is None:
        found = CaseSurvey(case_id=case_id)
        db.add(found)
        await db.flush()  # a concurrent first attempt: IntegrityError, and the caller's retry finds it
    return found.id

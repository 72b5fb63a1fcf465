"""The schedules in the portal: every schedule and its versions in plain words (managers and
administrators), and an administrator's new version of one: the form, a preview of whose next dose
moves (the service the JSON preview calls), then saving it (audited by the same service)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import SessionDep, SettingsDep
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, redirect, render
from api.schedules.deps import EditorDep, ScheduleViewer, ViewerDep, must_edit
from domain.refusals import Conflict, Invalid
from domain.schedules import schedule_from_dict
from records.recipients import Recipient
from services import catalog
from services import schedules as service

router = APIRouter(prefix="/portal/schedules", route_class=PageRoute, include_in_schema=False)

ScheduleCode = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z0-9-]+$")]

DOSE_NUMBERS = ("min_interval_days", "recommended_interval_days", "grace_days")
BOOSTER_NUMBERS = ("min_interval_days", "min_age_years", "max_age_years", "grace_days")
NOT_A_NUMBER = N_("Enter a whole number of 0 or more, or leave it empty where it may be.")
NO_REASON = N_("Say why the schedule changes (3 characters or more).")
NOT_A_SCHEDULE = N_("This is not a schedule the programme can follow.")
UNCHANGED = N_("The new version is the same as the current one: change something first.")


async def _product_names(db: AsyncSession) -> dict[str, str]:
    """The catalog's names by code, in the order of the names (the form lists them so)."""
    return dict(sorted((await catalog.product_names(db)).items(), key=lambda item: item[1]))


def _page(request: Request, viewer: ScheduleViewer, template: str, **context: Any) -> Response:
    return render(request, template, actor=viewer.actor, viewer=viewer, **context)


@router.get("")
async def schedules_page(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    rows = await service.current(db)
    return _page(
        request,
        viewer,
        "portal/schedules.html",
        schedules=[(row, row.schedule()) for row in rows],
        product_names=await _product_names(db),
    )


@router.get("/{schedule_code}")
async def schedule_page(
    request: Request, schedule_code: ScheduleCode, viewer: ViewerDep, db: SessionDep
) -> Response:
    rows = await service.versions(db, schedule_code)
    return _page(
        request,
        viewer,
        "portal/schedule.html",
        code=schedule_code,
        versions=[(row, row.schedule()) for row in reversed(rows)],
        product_names=await _product_names(db),
    )


async def _edit_page(
    request: Request,
    viewer: ScheduleViewer,
    db: SessionDep,
    code: str,
    body: dict[str, Any] | None = None,
    reason: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    newest = (await service.versions(db, code))[-1]
    return _page(
        request,
        viewer,
        "portal/schedule_edit.html",
        code=code,
        current=newest,
        body=body or newest.body,
        reason=reason,
        errors=errors or {},
        product_names=await _product_names(db),
        status_code=status_code,
        **context,
    )


@router.get("/{schedule_code}/edit")
async def edit_page(
    request: Request, schedule_code: ScheduleCode, viewer: EditorDep, db: SessionDep
) -> Response:
    return await _edit_page(request, viewer, db, schedule_code)


def _number(form: FormData, name: str, errors: dict[str, str], *, optional: bool) -> int | None:
    text = str(form.get(name, "")).strip()
    if not text and optional:
        return None
    if not text.isdigit():
        errors[name] = NOT_A_NUMBER
        return None
    return int(text)


def edited_body(current: dict[str, Any], form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The schedule the form describes: the current version's doses and boosters with the form's
    products, intervals and ages (a dose's "same product" and condition stay as they are)."""
    errors: dict[str, str] = {}
    body = dict(current)
    body["name"] = str(form.get("name", "")).strip() or current["name"]
    for name, optional in (("min_age_months", False), ("max_age_months", True)):
        body[name] = _number(form, name, errors, optional=optional)
    primary = []
    for number, dose in enumerate(current["primary"], start=1):
        changed = {**dose, "products": [str(p) for p in form.getlist(f"dose{number}_products")]}
        for field in DOSE_NUMBERS:
            optional = field == "recommended_interval_days"
            changed[field] = _number(form, f"dose{number}_{field}", errors, optional=optional)
        primary.append(changed)
    body["primary"] = primary
    boosters = []
    for number, booster in enumerate(current.get("boosters") or [], start=1):
        changed = {**booster, "products": [str(p) for p in form.getlist(f"booster{number}_products")]}
        for field in BOOSTER_NUMBERS:
            optional = field == "max_age_years"
            changed[field] = _number(form, f"booster{number}_{field}", errors, optional=optional)
        changed["repeats"] = form.get(f"booster{number}_repeats") == "on"
        boosters.append(changed)
    body["boosters"] = boosters
    return body, errors


def _reason(form: FormData, errors: dict[str, str]) -> str:
    reason = str(form.get("reason", "")).strip()
    if len(reason) < 3 or len(reason) > 2000:
        errors["reason"] = NO_REASON
    return reason


@router.post("/{schedule_code}/preview")
async def preview_submit(
    request: Request,
    schedule_code: ScheduleCode,
    viewer: ViewerDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
) -> Response:
    must_edit(viewer)  # after the form's token: a forged post is refused as one
    current = (await service.versions(db, schedule_code))[-1]
    body, errors = edited_body(current.body, form)
    reason = _reason(form, errors)
    if errors:
        return await _edit_page(request, viewer, db, schedule_code, body, reason, errors, 422)
    try:
        moved = await service.preview(db, settings, code=schedule_code, body=body)
    except Invalid as refused:
        return await _edit_page(
            request,
            viewer,
            db,
            schedule_code,
            body,
            reason,
            status_code=422,
            failed=NOT_A_SCHEDULE,
            why=refused.message,
        )
    people = {
        r.id: r
        for r in (
            await db.execute(select(Recipient).where(Recipient.id.in_([m.recipient_id for m in moved])))
        ).scalars()
    }
    return _page(
        request,
        viewer,
        "portal/schedule_preview.html",
        code=schedule_code,
        current=current,
        proposed=schedule_from_dict({**body, "code": schedule_code, "version": current.version + 1}),
        moved=[(people.get(m.recipient_id), m) for m in moved],
        body_json=json.dumps(body, sort_keys=True),
        reason=reason,
        product_names=await _product_names(db),
        short_days=settings.day_seconds < 86400,
    )


@router.post("/{schedule_code}/versions")
async def save_submit(
    request: Request, schedule_code: ScheduleCode, viewer: ViewerDep, form: CheckedForm, db: SessionDep
) -> Response:
    must_edit(viewer)  # after the form's token: a forged post is refused as one
    errors: dict[str, str] = {}
    reason = _reason(form, errors)
    try:
        body = json.loads(str(form.get("schedule", "")))
        assert isinstance(body, dict)
    except (ValueError, AssertionError):
        return await _edit_page(request, viewer, db, schedule_code, status_code=422, failed=NOT_A_SCHEDULE)
    if errors:
        return await _edit_page(request, viewer, db, schedule_code, body, reason, errors, 422)
    try:
        await service.add_version(db, code=schedule_code, body=body, reason=reason, actor=viewer.audit_actor)
    except Invalid as refused:
        return await _edit_page(
            request,
            viewer,
            db,
            schedule_code,
            body,
            reason,
            status_code=422,
            failed=NOT_A_SCHEDULE,
            why=refused.message,
        )
    except Conflict:
        return await _edit_page(
            request, viewer, db, schedule_code, body, reason, status_code=409, failed=UNCHANGED
        )
    return redirect(f"/portal/schedules/{schedule_code}?notice=schedule_saved")

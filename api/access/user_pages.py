"""The location manager's users page: add a user, change a role, remove a user."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.access.deps import LocationUserDep
from api.access.schemas import UserAdd
from api.deps import Actor, Manager, SessionDep, SettingsDep, TemporalDep
from api.pages.confirm import Confirm, ask_once
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, field_errors, redirect, render
from domain.refusals import Conflict
from records.users import Role, User
from services.access import add_location_user, change_location_role, location_users, remove_location_user

router = APIRouter(prefix="/portal/users", route_class=PageRoute, include_in_schema=False)

ADD_FIELDS = ("first_name", "last_name", "email", "login_name", "role", "preferred_language")


async def _users_page(request: Request, actor: Actor, db: SessionDep, **context: Any) -> Response:
    context.setdefault("form", dict.fromkeys(ADD_FIELDS, ""))
    context.setdefault("errors", {})
    return render(request, "portal/users.html", actor=actor, users=await location_users(db, actor), **context)


async def _change(
    request: Request, actor: Actor, db: SessionDep, change: Awaitable[Any], notice: str, **context: Any
) -> Response:
    """Makes a change to the location's users; a conflict shows the page again with why."""
    try:
        await change
    except Conflict as exc:
        return await _users_page(request, actor, db, failed=exc.message, status_code=409, **context)
    return redirect(f"/portal/users?notice={notice}")


@router.get("")
async def users_page(request: Request, actor: Manager, db: SessionDep) -> Response:
    return await _users_page(request, actor, db)


@router.post("")
async def add_user_submit(
    request: Request,
    actor: Manager,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    values = {name: str(form.get(name, "")).strip() for name in ADD_FIELDS}
    try:
        body = UserAdd(**values)
    except ValidationError as exc:
        return await _users_page(request, actor, db, form=values, errors=field_errors(exc), status_code=422)
    adding = add_location_user(db, actor, settings, temporal, **body.model_dump())
    return await _change(request, actor, db, adding, "user_added", form=values)


@router.post("/{user_id}/role")
async def change_role_submit(
    request: Request, membership: LocationUserDep, actor: Manager, form: CheckedForm, db: SessionDep
) -> Response:
    try:
        role = Role(str(form.get("role", "")))
    except ValueError:
        return await _users_page(request, actor, db, failed="Choose one of the options.", status_code=422)
    return await _change(
        request, actor, db, change_location_role(db, actor, membership, role), "role_changed"
    )


@router.post("/{user_id}/remove")
async def remove_user_submit(
    request: Request, membership: LocationUserDep, actor: Manager, form: CheckedForm, db: SessionDep
) -> Response:
    user = await db.get(User, membership.user_id)
    asked = ask_once(
        request,
        actor,
        form,
        Confirm(
            action=f"/portal/users/{membership.user_id}/remove",
            heading=N_("Remove this user from the location?"),
            button=N_("Remove the user"),
            back="/portal/users",
            subject=f"{user.full_name} ({user.login_name})" if user else str(membership.user_id),
            lead=N_("They can no longer work at this location; what they recorded stays."),
        ),
    )
    if isinstance(asked, Response):
        return asked
    return await _change(request, actor, db, remove_location_user(db, actor, membership), "user_removed")

"""Walks every route of the app and checks its access rule for every role.

A new route is covered without editing this file: it must carry a visible
access rule (Public, a role-checked actor, a provider login, or a help-desk
identity), and a location-scoped path parameter must have a factory below.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from sqlalchemy import select

from api.app import api_routes
from api.deps import Require, get_current_user, public_route, require_admin
from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, checked_form, csrf_token
from api.pages.rendering import PageRoute
from api.permissions import allows
from domain.security import hash_password
from records.db import transaction
from records.helpdesk import Requester
from records.locations import Location
from records.uploads import RecipientUpload
from records.users import Membership, User
from tests import inventory
from tests.conftest import login
from worker.seed import DEMO_PASSWORD

ROLE_LOGINS = {"manager": "manager", "provider": "provider", "scheduler": "scheduler", "readonly": "readonly"}
MISSING_ID = 987654321

# Path parameters naming a record shared by every location (never a 404 by location).
# Programme-wide names (a schedule, a condition) are no record of a location either.
SHARED_PATH_PARAMS = {"recipient_id", "product_code", "schedule_code", "condition"}


async def _other_location_id(db: Any) -> int:
    return (await db.execute(select(Location.id).where(Location.code == "BUNC-02"))).scalar_one()


async def _user_only_at_other_location(sessions: Any) -> int:
    async with transaction(sessions) as db:
        user = User(
            login_name=f"elsewhere.{uuid.uuid4().hex[:6]}",
            email="elsewhere@cvms.test",
            first_name="Else",
            last_name="Where",
        )
        db.add(user)
        await db.flush()
        db.add(Membership(user_id=user.id, location_id=await _other_location_id(db), role="provider"))
        return user.id


async def _slot_at_other_location(sessions: Any) -> int:
    from tests.journeys import foreign_records

    return (await foreign_records(sessions))["slot_id"]


async def _appointment_at_other_location(sessions: Any) -> int:
    from tests.journeys import foreign_records

    return (await foreign_records(sessions))["appointment_id"]


async def _dose_at_other_location(sessions: Any) -> int:
    from tests.journeys import foreign_records

    return (await foreign_records(sessions))["dose_id"]


async def _hold_at_other_location(sessions: Any) -> int:
    from tests.waitlist import foreign_hold

    return await foreign_hold(sessions)


async def _waitlist_entry_at_other_location(sessions: Any) -> int:
    from tests.waitlist import foreign_waitlist_entry

    return await foreign_waitlist_entry(sessions)


async def _upload_at_other_location(sessions: Any) -> int:
    async with transaction(sessions) as db:
        upload = RecipientUpload(
            location_id=await _other_location_id(db),
            created_by=(await db.execute(select(User.id).limit(1))).scalar_one(),
            filename="elsewhere.csv",
            content="first_name,last_name,date_of_birth,sex\n",
            total_rows=0,
            status="done",
        )
        db.add(upload)
        await db.flush()
        return upload.id


# For each location-scoped path parameter: makes such a record at BUNC-02 and returns its id.
FOREIGN_RECORD_FACTORIES: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "user_id": _user_only_at_other_location,
    "slot_id": _slot_at_other_location,
    "appointment_id": _appointment_at_other_location,
    "dose_id": _dose_at_other_location,
    "lot_id": inventory.foreign_lot,
    "transfer_id": inventory.foreign_transfer,
    "offer_id": inventory.foreign_offer,
    "shortage_id": inventory.foreign_shortage,
    "hold_id": _hold_at_other_location,
    "entry_id": _waitlist_entry_at_other_location,
    "upload_id": _upload_at_other_location,
}


def _walk(dependant: Dependant) -> list[Any]:
    found = [dependant.call]
    for sub in dependant.dependencies:
        found += _walk(sub)
    return found


def access_rule(route: Any) -> tuple[str, Any]:
    calls = _walk(route.dependant)
    requirements = [c for c in calls if isinstance(c, Require)]
    if requirements:
        return "role", requirements[0].permission
    if public_route in calls:
        return "public", None
    if require_admin in calls:
        return "admin", None
    names = {getattr(c, "__name__", "") for c in calls}
    if "get_current_agent" in names:
        return "agent", None
    if "get_current_requester" in names:
        return "requester", None
    if get_current_user in calls:
        return "login", None
    return "none", None


def all_routes(app: Any) -> list[tuple[str, str, Any]]:
    found = [
        (path, method, route)
        for path, methods, route in api_routes(app)
        for method in methods
        if method != "HEAD"
    ]
    return sorted(found, key=lambda row: row[:2])  # a page and a JSON route may share a path and method


def fill(path: str, value: Any = MISSING_ID) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


def is_page(route: Any) -> bool:
    return isinstance(route, PageRoute)


def request_body(route: Any, method: str, headers: dict[str, str], secret_key: str) -> dict[str, Any]:
    """An empty JSON body for the API; for a page form post, an empty form that carries a
    valid CSRF token for this login, so the check under test is the access rule."""
    if is_page(route) and method == "GET":  # as a browser asks: pages beside JSON routes answer it
        return {"headers": {**headers, "Accept": "text/html"}}
    if not (is_page(route) and method == "POST"):
        return {"json": {}, "headers": headers}
    session_token = headers.get("Authorization", " ").split(" ", 1)[1] or None
    nonce = "authorization-test-nonce"
    return {
        "data": {CSRF_FIELD: csrf_token(secret_key, nonce, session_token)},
        "headers": {**headers, "Cookie": f"{CSRF_COOKIE}={nonce}"},
    }


def test_every_route_declares_an_access_rule(app):
    undeclared = [f"{m} {p}" for p, m, r in all_routes(app) if access_rule(r)[0] == "none"]
    assert undeclared == [], f"routes without an access rule: {undeclared}"


def test_every_location_scoped_path_parameter_has_a_foreign_record_factory(app):
    missing = set()
    for path, _method, route in all_routes(app):
        if access_rule(route)[0] != "role":
            continue
        for name in re.findall(r"\{([^}:]+)", path):
            if name not in SHARED_PATH_PARAMS and name not in FOREIGN_RECORD_FACTORIES:
                missing.add(name)
    assert not missing, f"add these to FOREIGN_RECORD_FACTORIES or SHARED_PATH_PARAMS: {missing}"


async def test_no_login_is_401_on_every_non_public_route_and_pages_go_to_their_login(app, api):
    for path, method, route in all_routes(app):
        kind, _ = access_rule(route)
        if kind == "public":
            continue
        response = await api.request(method, fill(path), **request_body(route, method, {}, "x" * 16))
        if is_page(route):
            assert response.status_code == 303, f"{method} {path}: {response.status_code}"
            assert response.headers["location"].startswith(route.login_path + "?next="), f"{method} {path}"
            continue
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.json()["detail"]


def is_identity(call: Any) -> bool:
    return (
        isinstance(call, Require)
        or call is get_current_user
        or call is require_admin
        or getattr(call, "__name__", "") in ("get_current_requester", "get_current_agent")
    )


def test_every_page_form_post_checks_its_csrf_token_after_the_login(app):
    for path, method, route in all_routes(app):
        if not (is_page(route) and method == "POST"):
            continue
        calls = _walk(route.dependant)
        assert checked_form in calls, f"{method} {path} does not check the CSRF token"
        if access_rule(route)[0] != "public":
            identity = next(i for i, c in enumerate(calls) if is_identity(c))
            assert identity < calls.index(checked_form), f"{method} {path}: declare the form after the actor"


async def test_a_page_form_post_without_a_valid_token_is_refused(app, api, settings):
    headers = await login(api, "manager")
    for path, method, route in all_routes(app):
        if not (is_page(route) and method == "POST") or access_rule(route)[0] not in (
            "role",
            "login",
            "admin",
            "public",
        ):
            continue  # help-desk identities: the structural check above covers them
        forged = request_body(route, method, headers, "not-the-secret-key-at-all")
        response = await api.request(method, fill(path, 1), **forged)
        assert response.status_code in (403, 404), f"{method} {path}: {response.status_code}"
        if response.status_code == 403:
            assert "did not come from this site" in response.text


@pytest.mark.parametrize("role", sorted(ROLE_LOGINS))
async def test_each_role_gets_exactly_what_its_permissions_allow(app, api, settings, role):
    headers = await login(api, ROLE_LOGINS[role])
    for path, method, route in all_routes(app):
        kind, permission = access_rule(route)
        if kind != "role":
            continue
        # A missing id: an allowed role gets past authorization (404/422), a refused one gets 403.
        response = await api.request(
            method, fill(path), **request_body(route, method, headers, settings.secret_key)
        )
        if allows(role, permission):
            assert response.status_code not in (401, 403), (
                f"{role} refused on {method} {path}: {response.text}"
            )
        else:
            assert response.status_code == 403, f"{role} allowed on {method} {path}: {response.status_code}"
        assert response.status_code < 500, f"{method} {path}: {response.text}"


async def test_records_of_another_location_are_404_on_every_route(app, api, sessions, settings):
    headers = await login(api, "manager")  # manager at WAKE-01 only: every permission there
    foreign: dict[str, Any] = {}
    for path, method, route in all_routes(app):
        if access_rule(route)[0] != "role":
            continue
        params = [n for n in re.findall(r"\{([^}:]+)", path) if n not in SHARED_PATH_PARAMS]
        if not params:
            continue
        url = path
        for name in params:
            if name not in foreign:
                foreign[name] = await FOREIGN_RECORD_FACTORIES[name](sessions)
            url = url.replace("{" + name + "}", str(foreign[name]))
        url = fill(url, 1)  # any shared parameter left
        response = await api.request(method, url, **request_body(route, method, headers, settings.secret_key))
        assert response.status_code == 404, f"{method} {path} with another location's record: {response.text}"


# --- the help desk: requester and agent logins ---------------------------------------------------


async def requester_login(api: Any, sessions: Any) -> dict[str, str]:
    """A ready help-desk requester (password set) and its bearer header."""
    email = f"req.{uuid.uuid4().hex[:8]}@clinic.example"
    async with transaction(sessions) as db:
        db.add(
            Requester(
                first_name="Rae",
                last_name="Quest",
                email=email,
                password_hash=hash_password(DEMO_PASSWORD),
                must_change_password=False,
                confirmed=True,
            )
        )
    response = await api.post("/helpdesk/login", json={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    api.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_a_requester_login_is_refused_on_every_provider_route(app, api, sessions):
    headers = await requester_login(api, sessions)
    for path, method, route in all_routes(app):
        if access_rule(route)[0] not in ("role", "login", "admin"):
            continue
        response = await api.request(method, fill(path), **request_body(route, method, headers, "x" * 16))
        assert response.status_code in (401, 403), (
            f"requester let in on {method} {path}: {response.status_code}"
        )


async def test_agent_routes_refuse_requesters_and_providers(app, api, sessions):
    requester = await requester_login(api, sessions)
    provider = await login(api, "provider")
    for path, method, route in all_routes(app):
        if access_rule(route)[0] != "agent":
            continue
        for who, headers in (("requester", requester), ("provider", provider)):
            response = await api.request(method, fill(path), **request_body(route, method, headers, "x" * 16))
            assert response.status_code == 403, f"{who} on {method} {path}: {response.status_code}"


async def test_requester_routes_refuse_providers_and_agents(app, api):
    provider = await login(api, "provider")
    agent = await login(api, "agent")
    for path, method, route in all_routes(app):
        if access_rule(route)[0] != "requester":
            continue
        for who, headers in (("provider", provider), ("agent", agent)):
            response = await api.request(method, fill(path), **request_body(route, method, headers, "x" * 16))
            assert response.status_code == 403, f"{who} on {method} {path}: {response.status_code}"


async def test_admin_routes_refuse_everyone_but_a_programme_administrator(app, api, settings):
    """A location role, however strong, is no programme administrator; the demo's agent is one."""
    admin = await login(api, "agent")
    for role, login_name in sorted(ROLE_LOGINS.items()):
        headers = await login(api, login_name)
        for path, method, route in all_routes(app):
            if access_rule(route)[0] != "admin":
                continue
            response = await api.request(
                method, fill(path), **request_body(route, method, headers, settings.secret_key)
            )
            assert response.status_code == 403, f"{role} on {method} {path}: {response.status_code}"
            if not is_page(route):
                assert response.json()["code"] == "admin_only"
            response = await api.request(
                method, fill(path), **request_body(route, method, admin, settings.secret_key)
            )
            assert response.status_code not in (401, 403), f"admin refused on {method} {path}"
            assert response.status_code < 500, f"{method} {path}: {response.text}"


async def test_there_are_help_desk_routes_of_each_kind(app):
    kinds = {access_rule(route)[0] for _path, _method, route in all_routes(app)}
    assert {"agent", "requester"} <= kinds

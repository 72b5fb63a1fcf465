"""Help-desk administration on the real stack: administrators manage teams, agents and routing
rules through the API and the pages; everyone else is refused; every change is audited."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select

from records.audit import AuditEntry
from records.db import transaction
from tests.conftest import login
from tests.journeys import portal_form
from tests.test_helpdesk import make_agent, text_of
from worker.seed import DEMO_PASSWORD

HTML = {"Accept": "text/html"}


async def audited(sessions: Any, entity: str, entity_id: object) -> list[str]:
    async with transaction(sessions) as db:
        rows = await db.execute(
            select(AuditEntry.action).where(
                AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id)
            )
        )
        return list(rows.scalars())


async def test_administrators_manage_teams_and_agents_through_the_api(api, smtp, sessions):
    admin = await login(api, "agent", DEMO_PASSWORD)
    plain_login, plain_id = await make_agent(sessions, "Provider Support")
    plain = await login(api, plain_login)
    name = f"Lab Support {uuid.uuid4().hex[:4]}"
    team = {"name": name, "email": "lab-support@cvms.example"}
    assert (await api.post("/helpdesk/agent/teams", json=team, headers=plain)).status_code == 403
    assert (await api.get("/helpdesk/agent/agents", headers=plain)).status_code == 403
    created = await api.post("/helpdesk/agent/teams", json=team, headers=admin)
    assert created.status_code == 201, created.text
    team_id = created.json()["id"]
    assert (await api.post("/helpdesk/agent/teams", json=team, headers=admin)).status_code == 409
    bad = await api.post("/helpdesk/agent/teams", json=team | {"email": "nope"}, headers=admin)
    assert bad.status_code == 422
    renamed = await api.put(
        f"/helpdesk/agent/teams/{team_id}", json=team | {"name": name + " East"}, headers=admin
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == name + " East"
    teams = {t["name"]: t["id"] for t in (await api.get("/helpdesk/agent/teams", headers=admin)).json()}
    default = await api.put(
        f"/helpdesk/agent/teams/{teams['General Support']}",
        json={"name": "General Support", "email": "help@cvms.example", "is_default": False},
        headers=admin,
    )
    assert default.status_code == 409 and default.json()["code"] == "default_team_needed"
    assert await audited(sessions, "helpdesk_team", team_id) == ["save", "save"]

    # A new login becomes an agent of the new team and is emailed its set-up link.
    login_name = f"lab.{uuid.uuid4().hex[:6]}"
    email = f"{login_name}@cvms.example"
    agent = {
        "login_name": login_name,
        "email": email,
        "first_name": "Lee",
        "last_name": "Lab",
        "team_ids": [team_id],
    }
    no_team = await api.post("/helpdesk/agent/agents", json=agent | {"team_ids": [999999]}, headers=admin)
    assert no_team.status_code == 422 and no_team.json()["code"] == "bad_team"
    added = await api.post("/helpdesk/agent/agents", json=agent, headers=admin)
    assert added.status_code == 201, added.text
    agent_id = added.json()["agent_id"]
    assert added.json()["name"] == "Lee Lab" and added.json()["team_ids"] == [team_id]
    [setup] = await smtp.wait_for(lambda m: m["To"] == email)
    assert re.search(r"set-password\?token=", text_of(setup))
    assert (await api.post("/helpdesk/agent/agents", json=agent, headers=admin)).status_code == 409
    someone = agent | {"login_name": plain_login, "email": "not-theirs@example.org"}
    assert (await api.post("/helpdesk/agent/agents", json=someone, headers=admin)).json()[
        "code"
    ] == "login_taken"

    # The plain agent moves to the new team too, then loses help-desk access.
    change = {
        "display_name": "Ty",
        "is_admin": False,
        "is_active": True,
        "team_ids": [team_id, teams["Provider Support"]],
    }
    moved = await api.put(f"/helpdesk/agent/agents/{plain_id}", json=change, headers=admin)
    assert moved.status_code == 200 and sorted(moved.json()["team_ids"]) == sorted(change["team_ids"])
    me = (await api.get("/helpdesk/agent/me", headers=plain)).json()
    assert team_id in [t["id"] for t in me["teams"]]
    ended = await api.put(
        f"/helpdesk/agent/agents/{plain_id}", json=change | {"is_active": False}, headers=admin
    )
    assert ended.status_code == 200
    assert (await api.get("/helpdesk/agent/queue", headers=plain)).status_code == 403
    me_id = (await api.get("/helpdesk/agent/me", headers=admin)).json()["agent_id"]
    own = change | {"is_admin": False, "team_ids": [teams["Provider Support"]]}
    assert (await api.put(f"/helpdesk/agent/agents/{me_id}", json=own, headers=admin)).status_code == 409
    assert await audited(sessions, "helpdesk_agent", agent_id) == ["create"]
    assert await audited(sessions, "helpdesk_agent", plain_id) == ["update", "update"]


async def test_administrators_manage_teams_agents_and_routing_in_the_pages(api, settings, sessions):
    admin = await login(api, "agent", DEMO_PASSWORD)
    page = await api.get("/helpdesk/agent/admin", headers={**admin, **HTML})
    assert page.status_code == 200 and "Routing rules" in page.text and "General Support" in page.text
    plain_login, _ = await make_agent(sessions, "Provider Support")
    plain = await login(api, plain_login)
    assert (await api.get("/helpdesk/agent/admin", headers={**plain, **HTML})).status_code == 403

    name = f"Pharmacy Support {uuid.uuid4().hex[:4]}"
    saved = await api.post(
        "/helpdesk/agent/admin/teams",
        **portal_form(settings, admin, name=name, email="pharmacy@cvms.example"),
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("notice=team_saved")
    refused = await api.post(
        "/helpdesk/agent/admin/teams",
        **portal_form(settings, admin, name=name, email="pharmacy@cvms.example"),
    )
    assert refused.status_code == 422 and "a team of that name exists" in refused.text
    listed = await api.get("/helpdesk/agent/admin", headers={**admin, **HTML})
    assert name in listed.text
    team_id = int(re.search(rf'<option value="(\d+)">{name}</option>', listed.text).group(1))

    login_name = f"pharm.{uuid.uuid4().hex[:6]}"
    added = await api.post(
        "/helpdesk/agent/admin/agents",
        **portal_form(
            settings,
            admin,
            login_name=login_name,
            email=f"{login_name}@cvms.example",
            first_name="Pia",
            last_name="Pharm",
            team_ids=str(team_id),
        ),
    )
    assert added.status_code == 303, added.text
    assert "Pia Pharm" in (await api.get("/helpdesk/agent/admin", headers={**admin, **HTML})).text

    rule = await api.post(
        "/helpdesk/agent/admin/routing",
        **portal_form(settings, admin, topic="other/other", team_id=str(team_id)),
    )
    assert rule.status_code == 303
    try:
        rules = (await api.get("/helpdesk/agent/routing-rules", headers=admin)).json()
        assert {"category": "other", "topic": "other", "team_id": team_id, "team": name} in rules
    finally:
        teams = {t["name"]: t["id"] for t in (await api.get("/helpdesk/agent/teams", headers=admin)).json()}
        back = {"category": "other", "topic": "other", "team_id": teams["General Support"]}
        assert (await api.put("/helpdesk/agent/routing-rules", json=back, headers=admin)).status_code == 200

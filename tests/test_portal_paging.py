"""Long lists page: the slots list and the help-desk queue show PAGE_SIZE rows a page in a
stable order (ties broken by id), and a row beyond the first page is reached by the page links;
the slots calendar lists a whole day in the same order."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from api.pages.rendering import PAGE_SIZE
from records.db import transaction
from records.helpdesk import Category, RoutingRule, Team, Topic
from tests.conftest import login
from tests.inventory import headers_for, new_site
from tests.journeys import new_product, publish_slot
from tests.test_helpdesk import make_agent, open_case, register_requester

HTML = {"Accept": "text/html"}


async def _pages(api: Any, headers: dict[str, str], first: str, pattern: str) -> list[list[int]]:
    """The ids `pattern` finds on each page, from the first page on through its "Next" links."""
    pages, address = [], first
    while address:
        shown = await api.get(address, headers={**headers, **HTML})
        assert shown.status_code == 200, shown.text
        pages.append([int(found) for found in re.findall(pattern, shown.text)])
        following = re.search(r'<a href="([^"]+)" rel="next">', shown.text)
        address = following.group(1).replace("&amp;", "&") if following else None
        assert len(pages) < 10, "the pages do not end"
    return pages


async def test_the_slots_calendar_lists_a_day_in_a_stable_order(api, sessions):
    site = await new_site(sessions)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    # More slots than a list page, all at one time: only the id orders them, all on their day.
    published = [
        (await publish_slot(api, manager, start_in=7200, capacity=2, product=product))
        for _ in range(PAGE_SIZE + 3)
    ]
    day = datetime.fromisoformat(published[0]["start_at"]).astimezone(ZoneInfo("America/New_York")).date()
    shown = await api.get(f"/portal/slots?view=day&day={day.isoformat()}", headers={**manager, **HTML})
    assert shown.status_code == 200, shown.text
    ids = [int(found) for found in re.findall(r'action="/portal/slots/(\d+)/close"', shown.text)]
    assert ids == sorted(slot["id"] for slot in published)
    seats = 2 * len(published)
    assert f"0 of {seats} seats used, {seats} free" in shown.text


async def _team_of_its_own(sessions: Any) -> tuple[str, str, str]:
    """A team, an agent on it, and a category whose cases go to it (a rule, as data): the
    queue this agent sees holds the test's cases only. Returns the agent's login name and the
    category and topic codes."""
    tag = uuid.uuid4().hex[:6]
    async with transaction(sessions) as db:
        team = Team(name=f"Paging Team {tag}", email=f"paging-{tag}@cvms.test")
        category = Category(code=f"paging-{tag}", name=f"Paging {tag}", position=99)
        db.add_all([team, category])
        await db.flush()
        db.add(Topic(category_id=category.id, code="many", name="Many cases"))
        db.add(RoutingRule(category_id=category.id, topic_id=None, team_id=team.id))
    login_name, _agent_id = await make_agent(sessions, team.name)
    return login_name, category.code, "many"


async def test_the_help_desk_queue_pages_in_a_stable_order(api, smtp, sessions):
    login_name, category, topic = await _team_of_its_own(sessions)
    _email, requester = await register_requester(api, smtp)
    numbers = [
        (await open_case(api, requester, category=category, topic=topic, subject=f"Case {n}"))["number"]
        for n in range(PAGE_SIZE + 2)
    ]
    agent = await login(api, login_name)
    pages = await _pages(api, agent, "/helpdesk/agent/queue", r'<a href="/helpdesk/agent/cases/(\d+)">')
    assert [len(page) for page in pages] == [PAGE_SIZE, 2]
    # Nothing has breached: nearest due first, which is the order they were opened in.
    assert [number for page in pages for number in page] == numbers
    assert numbers[-1] in pages[1]
    second = await api.get("/helpdesk/agent/queue?state=&sla=&page=2", headers={**agent, **HTML})
    assert "Page 2 of 2" in second.text and 'rel="prev"' in second.text

"""Pages that lead somewhere (issue 17): every address `make dev` prints opens a page; a browser
without a login is sent to the login page of that side; an unknown address is an HTML 404 page
in the browser's language (API clients keep JSON); an agent who logs in lands on their queue,
which has a log-out button."""

from __future__ import annotations

import re
from pathlib import Path

from tests.browser_fixtures import assert_accessible
from worker.dev import banner
from worker.seed import DEMO_PASSWORD

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def opened(api, path: str, headers: dict[str, str]):
    """The page a browser ends on after following the redirects."""
    answer = await api.get(path, headers=headers)
    for _ in range(5):
        if answer.status_code not in (303, 307):
            break
        answer = await api.get(answer.headers["location"], headers=headers)
    return answer


async def test_every_address_the_launcher_prints_opens_a_page(api, settings):
    printed = re.findall(rf"http://127\.0\.0\.1:{settings.api_port}(/[^\s)]*)?", banner(settings, ".cvms"))
    paths = [path or "/" for path in printed]
    assert {"/portal", "/helpdesk", "/helpdesk/agent/queue", "/find", "/docs"} <= set(paths), paths
    for path in paths:
        page = await opened(api, path, BROWSER)
        assert page.status_code == 200, (path, page.status_code, page.text[:200])
        if "json" not in page.headers["content-type"]:  # the printed JSON addresses say "JSON:"
            assert "<title>" in page.text.lower(), path


async def test_a_browser_without_a_login_gets_the_login_page_of_that_side(api):
    for path, login_page in (
        ("/portal/recipients/1", "/portal/login"),
        ("/helpdesk/cases/new", "/helpdesk/login"),
        ("/helpdesk/agent/queue", "/portal/login"),
    ):
        answer = await api.get(path, headers=BROWSER)
        assert answer.status_code == 303, (path, answer.text[:200])
        assert answer.headers["location"].startswith(f"{login_page}?next="), path
    assert (await api.get("/recipients/1")).json()["detail"]  # an API client keeps JSON


async def test_an_unknown_address_is_an_html_404_page_in_the_browsers_language(api):
    spanish = await api.get("/portal/no-such-page", headers={**BROWSER, "Cookie": "cvms_lang=es"})
    assert spanish.status_code == 404
    assert spanish.headers["content-type"].startswith("text/html")
    assert '<html lang="es"' in spanish.text
    assert "<title>No encontrado" in spanish.text
    assert "No hay ninguna página en esta dirección." in spanish.text

    helpdesk = await api.get("/helpdesk/no-such-page", headers=BROWSER)
    assert helpdesk.status_code == 404 and "<title>Not found" in helpdesk.text
    assert 'href="/helpdesk"' in helpdesk.text  # its start page is the help desk's

    for client in ({}, {"Accept": "application/json"}):
        answer = await api.get("/portal/no-such-page", headers=client)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/json"
        assert answer.json()["detail"]


async def test_an_agent_lands_on_the_queue_and_can_log_out(page):
    await page.goto("/portal/login")
    await page.locator("#f-login_name").fill("agent")
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/helpdesk/agent/queue")
    await assert_accessible(page)
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url(re.compile(r"/portal/login\?notice=logged_out$"))
    await page.goto("/helpdesk/agent/queue")
    await page.wait_for_url(re.compile(r"/portal/login\?next="))


async def test_the_404_page_passes_axe(page):
    response = await page.goto("/portal/no-such-page")
    assert response.status == 404
    assert await page.title() == "Not found · cvms"
    await assert_accessible(page)


README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_readme_shows_what_the_launcher_prints(settings):
    from domain.settings import Settings

    assert banner(Settings(), ".cvms").strip() in README


async def test_every_page_address_in_the_readme_has_a_page(api):
    table = README.split("## The pages, and their addresses", 1)[1].split("\n## ", 1)[0]
    addresses = sorted(set(re.findall(r"`(/[^`\s]*)`", table)))
    assert "/portal/recipients/{id}/record.pdf" in addresses and len(addresses) > 25
    for address in addresses:
        path = re.sub(r"\{[a-z]+\}", "1", address)
        answer = await api.get(path, headers=BROWSER)
        assert "There is no page at this address." not in answer.text, address
        assert answer.status_code in (200, 303, 403, 404, 410), (address, answer.status_code)

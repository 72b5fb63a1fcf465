"""What every response tells the browser (CSP without framing, nosniff, referrer, HSTS), the origin
check of cookie-authenticated changes, and what adding an existing login reveals."""

from __future__ import annotations

from typing import Any

import httpx

from api.app import create_app
from api.pages.csrf import CSRF_COOKIE, csrf_token
from tests.conftest import login
from worker.seed import DEMO_PASSWORD

ORIGIN = "http://cvms.test"


async def test_every_response_carries_the_security_headers(api):
    manager = await login(api, "manager")
    answers = {
        "page": await api.get("/portal/login"),
        "json": await api.get("/location", headers=manager),
        "refusal": await api.get("/location"),
        "missing": await api.get("/no-such-thing"),
        "static": await api.get("/static/style.css"),
        "link page": await api.get("/r/appointments/not-a-token", headers={"Accept": "text/html"}),
    }
    for what, response in answers.items():
        policy = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, what
        assert "unsafe-inline" not in policy, what
        assert response.headers["X-Content-Type-Options"] == "nosniff", what
        assert "Strict-Transport-Security" not in response.headers, what  # plain HTTP here
    assert answers["link page"].headers["Referrer-Policy"] == "no-referrer"
    assert (await api.get("/portal/set-password?token=x")).headers["Referrer-Policy"] == "no-referrer"
    assert answers["page"].headers["Referrer-Policy"] == "same-origin"


async def test_hsts_over_https_and_from_a_trusted_proxy_only(settings, temporal, worker):
    for trusted, proto_header, expect in (
        ("", {}, False),
        ("", {"X-Forwarded-Proto": "https"}, False),  # anyone can send the header
        ("127.0.0.1/32", {"X-Forwarded-Proto": "https"}, True),
    ):
        app = create_app(settings.model_copy(update={"trusted_proxies": trusted}), temporal)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as api:
            response = await api.get("/health", headers=proto_header)
            assert ("Strict-Transport-Security" in response.headers) is expect, (trusted, proto_header)
    app = create_app(settings, temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://cvms.test") as api:
        assert "max-age=" in (await api.get("/health")).headers["Strict-Transport-Security"]


async def test_a_cookie_authenticated_change_from_another_origin_is_refused(api):
    logged_in = await api.post("/auth/login", json={"login_name": "manager", "password": DEMO_PASSWORD})
    session = logged_in.cookies["cvms_session"]
    token = logged_in.json()["token"]
    change = {"location_id": logged_in.json()["locations"][0]["location_id"]}
    cookies = {"cvms_session": session}
    api.cookies.clear()

    async def switch(headers: dict[str, str], jar: dict[str, str] | None = None) -> httpx.Response:
        api.cookies.clear()
        for name, value in (jar or cookies).items():
            api.cookies.set(name, value)
        try:
            return await api.post("/auth/location", json=change, headers=headers)
        finally:
            api.cookies.clear()

    foreign = await switch({"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["code"] == "csrf"
    assert (await switch({"Referer": "https://evil.example/page"})).status_code == 403
    assert (await switch({"Origin": "null"})).status_code == 403
    assert (await switch({})).status_code == 403  # a cookie alone names no origin
    assert (await switch({"Origin": ORIGIN})).status_code == 200
    assert (await switch({"Referer": f"{ORIGIN}/portal"})).status_code == 200
    nonce = "browser-nonce-123"
    with_token = {"X-CSRF-Token": csrf_token("test-secret-key-0123456789abcdef", nonce, session)}
    assert (await switch(with_token, cookies | {CSRF_COOKIE: nonce})).status_code == 200
    # A bearer-token client sends no cookie: the origin check does not apply to it.
    bearer = await api.post(
        "/auth/location",
        json=change,
        headers={"Authorization": f"Bearer {token}", "Origin": "https://x.example"},
    )
    assert bearer.status_code == 200


async def test_adding_an_existing_login_does_not_reveal_its_email(api, sessions):
    manager = await login(api, "twosites")  # manager at BUNC-02
    me = (await api.get("/auth/me", headers=manager)).json()
    bunc = next(loc for loc in me["locations"] if loc["location_code"] == "BUNC-02")
    await api.post("/auth/location", json={"location_id": bunc["location_id"]}, headers=manager)
    guess: dict[str, Any] = {
        "first_name": "Any",
        "last_name": "Body",
        "email": "any.body@elsewhere.example",
        "login_name": "provider",  # an existing login, at another location
        "role": "readonly",
    }
    refused = await api.post("/location/users", json=guess, headers=manager)
    assert refused.status_code == 409 and refused.json()["code"] == "login_taken"
    assert "@cvms.example" not in refused.text and "provider@" not in refused.text
    listed = (await api.get("/location/users", headers=manager)).json()
    assert all(row["login_name"] != "provider" for row in listed)

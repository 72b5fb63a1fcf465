"""The waiting room in front of a release: places in arrival order, let in at the manager's rate
with a single-use admission that expires, nobody more let in once the seats are promised, and one
place per browser and per email. Its state is rows: any process can answer for any place."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select, update

from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from records.db import transaction, utcnow
from records.waiting_room import QueuePlace, Release
from services import waiting_room_views as views
from tests.conftest import eventually
from tests.inventory import headers_for, new_site, receive_lot
from tests.journeys import new_product, publish_slot

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
NONCE = "waiting-room-test-nonce"


def post(settings, browser: str, **fields: object) -> dict:
    return {
        "data": {CSRF_FIELD: csrf_token(settings.secret_key, NONCE, None), **fields},
        "headers": {**BROWSER, "Cookie": f"{CSRF_COOKIE}={NONCE}; cvms_lang=en; cvms_queue={browser}"},
    }


async def released_site(api, sessions, *, capacity: int):
    site = await new_site(sessions, published=True)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    await receive_lot(api, manager, product, 50)
    await api.patch("/location/listing", json={"self_scheduling": True}, headers=manager)
    slot = await publish_slot(
        api, manager, start_in=2 * 86400, length=900, capacity=capacity, product=product
    )
    opened = await api.post(
        "/location/releases",
        json={"release_at": (utcnow() + timedelta(hours=1)).isoformat(), "admit_per_minute": 1},
        headers=manager,
    )
    assert opened.status_code == 201, opened.text
    return site, slot, opened.json()["id"]


async def join(api, settings, site, browser: str, email: str = "") -> str:
    joined = await api.post(f"/find/{site.code}/queue", **post(settings, browser, email=email))
    assert joined.status_code == 303, joined.text
    return joined.headers["location"]


async def turns_so_far(sessions, release_id: int, turns: int) -> None:
    """Moves the release time back so that exactly `turns` places have had their turn (1 a minute)."""
    async with transaction(sessions) as db:
        await db.execute(
            update(Release)
            .where(Release.id == release_id)
            .values(release_at=utcnow() - timedelta(minutes=turns, seconds=20))
        )


def admission_of(page_text: str) -> str:
    link = page_text.split('id="admitted" href="', 1)[1].split('"', 1)[0]
    return link.split("admission=", 1)[1]


async def status_of(api, place: str) -> dict:
    answered = await api.get(f"{place}/status", headers={"Accept": "application/json"})
    assert answered.status_code == 200, answered.text
    assert "no-store" in answered.headers["cache-control"]
    return answered.json()


async def test_a_crowd_is_let_in_in_arrival_order_and_no_more_than_the_seats(api, sessions, settings):
    site, slot, release_id = await released_site(api, sessions, capacity=3)
    crowd = [await join(api, settings, site, f"b-{uuid.uuid4().hex}") for _ in range(6)]

    before = [await api.get(place, headers=BROWSER) for place in crowd]
    assert all(page.status_code == 200 for page in before)
    assert [
        f"{i} people are ahead" in page.text or f"{i} person is ahead" in page.text
        for i, page in enumerate(before)
    ] == [True] * 6
    assert "no-store" in before[0].headers["cache-control"]
    # The page's script asks the same thing as JSON, and is told when to ask again.
    status = await status_of(api, crowd[4])
    assert status["status"] == "waiting" and status["ahead"] == 4
    assert 3 <= status["check_again_seconds"] <= 60 and status["wait_seconds"] > 3600
    assert "4 people are ahead" in status["text"]

    # Two turns given; the crowd looks in reverse order, the first two arrivals are let in.
    await turns_so_far(sessions, release_id, 2)
    seen = {place: await api.get(place, headers=BROWSER) for place in reversed(crowd)}
    admitted = [place for place in crowd if 'id="admitted"' in seen[place].text]
    assert admitted == crowd[:2]

    # Five turns given, but 3 seats: the third is let in; the next ones wait while every seat is
    # promised to someone choosing (a promise can come back), first in line first.
    await turns_so_far(sessions, release_id, 5)
    seen = {place: await api.get(place, headers=BROWSER) for place in reversed(crowd)}
    admitted = [place for place in crowd if 'id="admitted"' in seen[place].text]
    assert admitted == crowd[:3]
    assert [(await status_of(api, place))["ahead"] for place in crowd[3:]] == [0, 1, 2]

    # The first admission runs out unused: its seat goes to the next in line, not to whoever looks.
    earliest = select(func.min(QueuePlace.id)).where(QueuePlace.release_id == release_id)
    async with transaction(sessions) as db:
        await db.execute(
            update(QueuePlace)
            .where(QueuePlace.id == earliest.scalar_subquery())
            .values(admission_expires_at=utcnow() - timedelta(seconds=1))
        )
    for place in reversed(crowd):
        await api.get(place, headers=BROWSER)
    assert (await status_of(api, crowd[0]))["status"] == "expired"
    assert "Your turn has passed" in (await api.get(crowd[0], headers=BROWSER)).text
    assert [(await status_of(api, place))["status"] for place in crowd[1:]] == [
        "admitted",
        "admitted",
        "admitted",
        "waiting",
        "waiting",
    ]

    # The three let in hold the three seats: nothing is free or promised any more, so the rest
    # are told the seats are gone and offered the waitlist.
    for place in crowd[1:4]:
        token = admission_of((await api.get(place, headers=BROWSER)).text)
        held = await api.post(
            f"/find/{site.code}/times", **post(settings, "x", slot_id=slot["id"], admission=token)
        )
        assert held.status_code == 303, held.text
    for place in crowd[4:]:
        assert (await status_of(api, place))["status"] == "sold_out"
        gone = (await api.get(place, headers=BROWSER)).text
        assert "all taken" in gone and f'id="join-waitlist" href="/find/{site.code}/waitlist"' in gone
    assert (await status_of(api, crowd[1]))["status"] == "used"


async def test_a_waiting_place_is_answered_without_the_database(api, sessions, settings):
    """Between two pictures of the room (CVMS_WAITING_ROOM_REFRESH_SECONDS) a look at a place
    waiting or let in reads nothing: the crowd's polling costs no queries."""
    site, _slot, release_id = await released_site(api, sessions, capacity=3)
    crowd = [await join(api, settings, site, f"b-{uuid.uuid4().hex}") for _ in range(3)]
    tokens = [place.rsplit("/", 1)[1] for place in crowd]
    slow = settings.model_copy(update={"waiting_room_refresh_seconds": 3600})
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = sessions.kw["bind"].sync_engine
    await turns_so_far(sessions, release_id, 1)
    first = await views.look(sessions, slow, tokens[0])  # takes the picture, which lets the first in
    late = await join(api, settings, site, f"b-{uuid.uuid4().hex}")  # joins after the picture
    tokens.append(late.rsplit("/", 1)[1])
    event.listen(engine, "before_cursor_execute", count)
    try:
        looks = [await views.look(sessions, slow, token) for token in tokens * 20]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert first.status == "admitted" and first.admission_expires_at is not None
    assert [(look.status, look.ahead) for look in looks[:4]] == [
        ("admitted", 0),
        ("waiting", 0),
        ("waiting", 1),
        ("waiting", 2),  # joined after the picture: last in line, behind everyone it has
    ]
    assert statements == []


async def test_a_look_is_answered_from_the_last_picture_while_the_next_is_taken(api, sessions, settings):
    """With a refresh interval, nobody waits for the room's lock: a look gets the last picture and
    one background task takes the next, which lets in whoever's turn has come."""
    site, _slot, release_id = await released_site(api, sessions, capacity=3)
    token = (await join(api, settings, site, f"b-{uuid.uuid4().hex}")).rsplit("/", 1)[1]
    quick = settings.model_copy(update={"waiting_room_refresh_seconds": 0.2})
    assert (await views.look(sessions, quick, token)).status == "waiting"
    await turns_so_far(sessions, release_id, 1)
    # The next look may still see the last picture; a later one sees the turn given.
    admitted = await eventually(
        lambda: _admitted(sessions, quick, token), timeout=15, what="the background picture lets the place in"
    )
    assert admitted.admission_expires_at is not None


async def _admitted(sessions, settings, token):  # type: ignore[no-untyped-def]
    look = await views.look(sessions, settings, token)
    return look if look.status == "admitted" else None


@given(wait=st.one_of(st.none(), st.integers(min_value=0, max_value=10**7)))
def test_a_page_asks_again_sooner_the_nearer_its_turn(wait):
    again = views.check_again_seconds(wait)
    assert views.CHECK_AGAIN_MIN_SECONDS <= again <= views.CHECK_AGAIN_MAX_SECONDS
    if wait is not None and wait >= 5 * views.CHECK_AGAIN_MIN_SECONDS:
        assert again <= max(views.CHECK_AGAIN_MIN_SECONDS, wait / 5) + 1
        assert views.check_again_seconds(wait // 2) <= again


async def test_an_admission_works_once_and_not_after_it_expires(api, sessions, settings):
    site, slot, release_id = await released_site(api, sessions, capacity=5)
    first = await join(api, settings, site, f"b-{uuid.uuid4().hex}")
    second = await join(api, settings, site, f"b-{uuid.uuid4().hex}")
    redirected = await api.get(f"/find/{site.code}/times", headers=BROWSER)
    assert redirected.status_code == 303 and redirected.headers["location"] == f"/find/{site.code}/queue"
    without = await api.post(f"/find/{site.code}/times", **post(settings, "x", slot_id=slot["id"]))
    assert without.status_code == 403

    await turns_so_far(sessions, release_id, 2)
    tokens = []
    for place in (first, second):
        tokens.append(admission_of((await api.get(place, headers=BROWSER)).text))
    times = await api.get(f"/find/{site.code}/times?admission={tokens[0]}", headers=BROWSER)
    assert times.status_code == 200 and f'value="{tokens[0]}"' in times.text

    held = await api.post(
        f"/find/{site.code}/times", **post(settings, "x", slot_id=slot["id"], admission=tokens[0])
    )
    assert held.status_code == 303, held.text
    again = await api.post(
        f"/find/{site.code}/times", **post(settings, "x", slot_id=slot["id"], admission=tokens[0])
    )
    assert again.status_code == 409 and "already been used" in again.text

    async with transaction(sessions) as db:
        await db.execute(
            update(QueuePlace)
            .where(QueuePlace.release_id == release_id, QueuePlace.status == "admitted")
            .values(admission_expires_at=utcnow() - timedelta(seconds=1))
        )
    late = await api.post(
        f"/find/{site.code}/times", **post(settings, "x", slot_id=slot["id"], admission=tokens[1])
    )
    assert late.status_code == 410


async def test_one_place_per_browser_and_per_email(api, sessions, settings):
    site, _slot, _release = await released_site(api, sessions, capacity=2)
    browser, email = f"b-{uuid.uuid4().hex}", f"q.{uuid.uuid4().hex[:8]}@example.org"

    def place_of(address: str) -> str:  # the signed payload ({"q": id}), not the signing time
        return address.rsplit("/", 1)[1].split(".", 1)[0]

    place = place_of(await join(api, settings, site, browser, email))
    assert place_of(await join(api, settings, site, browser)) == place
    assert place_of(await join(api, settings, site, f"b-{uuid.uuid4().hex}", email.upper())) == place
    assert place_of(await join(api, settings, site, f"b-{uuid.uuid4().hex}")) != place

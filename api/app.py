"""The FastAPI application: routers, error handlers, and the shared state they use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from temporalio.client import Client

from api import access_log, devmail, observability
from api.access import pages as portal_pages
from api.access import routes as auth
from api.access import user_pages
from api.access import user_routes as users
from api.codec import routes as codec
from api.deps import Public, Reader
from api.doses import pages as dose_pages
from api.doses import recipient_pages as recipient_page
from api.doses import routes as doses
from api.eligibility import routes as eligibility
from api.errors import install_error_handlers
from api.exports import routes as exports
from api.finder import pages as finder_pages
from api.finder import queue_pages, room_pages, self_pages
from api.finder import routes as finder
from api.finder.caching import FinderFastLane
from api.helpdesk import admin_pages as helpdesk_admin_pages
from api.helpdesk import admin_routes as helpdesk_admin_routes
from api.helpdesk import agent_pages as helpdesk_agent_pages
from api.helpdesk import desk_routes as helpdesk_desk_routes
from api.helpdesk import mail_routes as helpdesk_mail_routes
from api.helpdesk import pages as helpdesk_pages
from api.helpdesk import password_pages as helpdesk_password_pages
from api.helpdesk import phone_pages as helpdesk_phone_pages
from api.helpdesk import phone_routes as helpdesk_phone_routes
from api.helpdesk import report_pages as helpdesk_report_pages
from api.helpdesk import report_routes as helpdesk_report_routes
from api.helpdesk import routes as helpdesk_routes
from api.helpdesk import survey_pages as helpdesk_survey_pages
from api.helpdesk import survey_routes as helpdesk_survey_routes
from api.inventory import lot_pages
from api.inventory import marketplace_routes as marketplace
from api.inventory import pages as inventory_pages
from api.inventory import routes as inventory
from api.limits import BodySizeLimit
from api.links import pages as recipient_link_pages
from api.links import routes as recipient_links
from api.pages.rendering import install_page_not_found
from api.products import routes as products
from api.recipients import pages as recipient_pages
from api.recipients import routes as recipients
from api.recipients import upload_pages
from api.recipients import upload_routes as recipient_uploads
from api.reports import pages as report_pages
from api.reports import routes as reports
from api.schedules import condition_pages
from api.schedules import pages as schedule_pages
from api.schedules import routes as schedules
from api.scheduling import pages as booking_pages
from api.scheduling import routes as scheduling
from api.security import SecurityHeaders
from api.waitlist import pages as waitlist_pages
from api.waitlist import routes as waitlist
from domain.settings import Settings, check_keys, get_settings
from records.db import make_engine, make_sessionmaker
from services import places, telemetry
from services.login_throttle import LoginThrottle
from services.self_scheduling import SelfServiceLimits
from services.temporal import connect

STATIC_DIR = Path(__file__).parent / "static"


class LocationOut(BaseModel):
    id: int
    code: str
    name: str
    time_zone: str
    scheduling_enabled: bool
    address: str
    phone: str
    my_role: str


def create_app(settings: Settings | None = None, temporal: Client | None = None) -> FastAPI:
    # Outside the development stack a default or short secret key is a start-up error.
    settings = check_keys(settings or get_settings())
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The finder's ZIP centroids load once, beside the loop, not in the first search.
        warming = asyncio.create_task(asyncio.to_thread(places.warm))
        # What start-up built (and the centroids, once loaded) lives as long as the process: out of
        # the collector's sight (services/telemetry.settle_heap).
        telemetry.settle_heap()
        warming.add_done_callback(lambda _warmed: telemetry.settle_heap())
        yield
        await warming
        await engine.dispose()

    app = FastAPI(
        title="cvms",
        description="Vaccination programme and help desk: recipients, dose series, cases.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = make_sessionmaker(engine)
    app.state.login_throttle = LoginThrottle(settings)
    app.state.self_service_limits = SelfServiceLimits(settings)

    # Temporal is connected on first use, so the API starts even while Temporal is coming up.
    client_lock = asyncio.Lock()
    connected: dict[str, Client] = {"client": temporal} if temporal else {}

    async def temporal_client() -> Client:
        if "client" not in connected:
            async with client_lock:
                if "client" not in connected:
                    connected["client"] = await connect(settings)
        return connected["client"]

    app.state.temporal = temporal_client
    install_error_handlers(app)
    access_log.install()
    app.add_middleware(
        BodySizeLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    install_page_not_found(app)
    app.add_middleware(FinderFastLane, settings=settings)
    app.add_middleware(SecurityHeaders, settings=settings)
    observability.install(app)

    @app.get("/health", tags=["health"], dependencies=[Public])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/location", response_model=LocationOut, tags=["auth"])
    async def active_location(actor: Reader) -> LocationOut:
        loc = actor.location
        return LocationOut(
            id=loc.id,
            code=loc.code,
            name=loc.name,
            time_zone=loc.time_zone,
            scheduling_enabled=loc.scheduling_enabled,
            address=loc.address,
            phone=loc.phone,
            my_role=actor.role,
        )

    # The public finder, self-booking and waiting room first: on launch day they are nearly every
    # request, and a route is found by trying each one in order. No other router has /find or
    # /public addresses, so the order changes no match.
    app.include_router(finder.router)
    app.include_router(finder_pages.router)
    app.include_router(self_pages.router)
    app.include_router(queue_pages.router)
    app.include_router(auth.router)
    app.include_router(codec.router)
    codec.install_codec_cors(app, settings.temporal_ui_origin_list)
    app.include_router(users.router)
    app.include_router(recipient_uploads.router)
    app.include_router(recipients.router)
    app.include_router(devmail.router)
    # Browsers at the help desk's addresses get its pages; every other client the JSON below.
    app.include_router(helpdesk_pages.router)
    app.include_router(helpdesk_password_pages.router)
    app.include_router(helpdesk_survey_pages.router)
    app.include_router(helpdesk_pages.agent_router)
    app.include_router(helpdesk_report_pages.router)
    app.include_router(helpdesk_agent_pages.agent_router)
    app.include_router(helpdesk_admin_pages.agent_router)
    app.include_router(helpdesk_routes.router)
    app.include_router(helpdesk_routes.agent_router)
    app.include_router(helpdesk_phone_routes.router)
    app.include_router(helpdesk_mail_routes.router)
    app.include_router(helpdesk_phone_pages.router)
    app.include_router(helpdesk_survey_routes.router)
    app.include_router(helpdesk_report_routes.router)
    app.include_router(helpdesk_desk_routes.agent_router)
    app.include_router(helpdesk_admin_routes.agent_router)
    app.include_router(products.router)
    app.include_router(schedules.router)
    app.include_router(scheduling.slots_router)
    app.include_router(scheduling.appointments_router)
    app.include_router(doses.router)
    app.include_router(doses.series_router)
    # Browsers opening a signed link get its page; every other client the JSON below.
    app.include_router(recipient_link_pages.router)
    app.include_router(recipient_link_pages.downloads)
    app.include_router(recipient_links.router)
    app.include_router(exports.router)
    app.include_router(inventory.router)
    app.include_router(marketplace.router)
    app.include_router(scheduling.holds_router)
    app.include_router(waitlist.router)
    app.include_router(eligibility.router)
    app.include_router(reports.router)
    app.include_router(portal_pages.router)
    app.include_router(recipient_pages.router)
    app.include_router(user_pages.router)
    app.include_router(upload_pages.router)
    app.include_router(recipient_page.router)
    app.include_router(booking_pages.router)
    app.include_router(dose_pages.router)
    app.include_router(lot_pages.router)
    app.include_router(waitlist_pages.router)
    app.include_router(inventory_pages.router)
    app.include_router(schedule_pages.router)
    app.include_router(condition_pages.router)
    app.include_router(report_pages.router)
    app.include_router(room_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def api_routes(app: FastAPI) -> list[tuple[str, frozenset[str], APIRoute]]:
    """(full path, methods, route) for every API route, routers included.

    Newer FastAPI keeps included routers as one entry each in `app.routes`;
    this flattens them so callers (the authorization test, docs) see every path.
    """
    found: list[tuple[str, frozenset[str], APIRoute]] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append((route.path, frozenset(route.methods or ()), route))
            elif hasattr(route, "effective_route_contexts"):
                for context in route.effective_route_contexts():
                    original = context.original_route
                    if isinstance(original, APIRoute):
                        found.append((context.path, frozenset(original.methods or ()), original))

    walk(list(app.routes))
    return found

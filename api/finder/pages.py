"""The public "find a vaccine location" page (no login), in English or Spanish."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import Public, ReadsOnly, SessionDep, SettingsDep
from api.finder.caching import cacheable
from api.finder.schemas import find_locations
from api.pages.i18n import LANGUAGES, request_language
from api.pages.rendering import PageRoute, render
from domain.refusals import Invalid
from services.catalog import product_names

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/find", dependencies=[Public, ReadsOnly])
async def find_page(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    product: Annotated[str | None, Query(max_length=40)] = None,
    lang: Annotated[str | None, Query(max_length=5)] = None,
    near: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    """`?lang=es` (or the language switch) picks the language; `?product=` narrows the list;
    `?near=` (a ZIP code or city) puts the nearest first."""
    language = lang if lang in LANGUAGES else request_language(request)
    names = await product_names(db)
    unknown_place = False
    try:
        locations = await find_locations(db, language, product or None, near)  # type: ignore[arg-type]
    except Invalid:
        unknown_place = True
        locations = await find_locations(db, language, product or None)  # type: ignore[arg-type]
    query = {k: v for k, v in (("product", product), ("near", near)) if v}
    page = render(
        request,
        "public/find.html",
        status_code=422 if unknown_place else 200,
        language=language,
        locations=locations,
        product_list=[
            {"code": code, "name": name} for code, name in sorted(names.items(), key=lambda i: i[1])
        ],
        product=product or "",
        near=near or "",
        unknown_place=unknown_place,
        # The language switch returns here without ?lang=, so the switch decides.
        here="/find" + (f"?{urlencode(query)}" if query else ""),
    )
    return cacheable(request, page, settings)

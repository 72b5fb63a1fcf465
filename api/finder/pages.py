"""The public "find a vaccine location" page (no login), in English or Spanish."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import Public, SessionDep
from api.finder.schemas import find_locations
from api.pages.i18n import LANGUAGES, request_language
from api.pages.rendering import PageRoute, render
from services.catalog import product_names

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/find", dependencies=[Public])
async def find_page(
    request: Request,
    db: SessionDep,
    product: Annotated[str | None, Query(max_length=40)] = None,
    lang: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    """`?lang=es` (or the language switch) picks the language; `?product=` narrows the list."""
    language = lang if lang in LANGUAGES else request_language(request)
    names = await product_names(db)
    return render(
        request,
        "public/find.html",
        language=language,
        locations=await find_locations(db, language, product or None),  # type: ignore[arg-type]
        product_list=[
            {"code": code, "name": name} for code, name in sorted(names.items(), key=lambda i: i[1])
        ],
        product=product or "",
        # The language switch returns here without ?lang=, so the switch decides.
        here="/find" + (f"?{urlencode({'product': product})}" if product else ""),
    )

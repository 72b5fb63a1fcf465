"""Rendering a page: the Jinja2 environment, the context every page gets, and how a page
route answers errors (the login page for no login, an HTML error page otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.types import Scope

from api.deps import Actor
from api.errors import ApiError, NotFound, Unauthorized, Unprocessable, http_status
from api.pages import i18n, pickers
from api.pages.choices import PAGE_GLOBALS
from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, token_for
from api.pages.i18n import N_
from api.permissions import Permission
from api.stock_warnings import TEXTS as STOCK_WARNING_TEXTS
from api.stock_warnings import StockWarning

TEMPLATES = Path(__file__).parent.parent / "templates"
PAGE_SIZE = 20

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",)),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]


@pass_context
def product_name(context: Any, code: str | None) -> str:
    """A product's name, never its code, from what the page has: `product_names` (code -> name),
    `product_list` (products) or `product_options` (code, name pairs)."""
    names = context.get("product_names")
    if not names and context.get("product_list"):
        names = {p.code: p.name for p in context["product_list"]}
    if not names and context.get("product_options"):
        names = dict(context["product_options"])
    return (names or {}).get(code or "", code or "")


@pass_context
def warning_text(context: Any, warning: StockWarning) -> str:
    """A stock warning in the page's language, its product by name, its date in the page's format."""
    values: dict[str, Any] = dict(warning.params)
    values["product"] = product_name(context, str(values.get("product", warning.product_code)))
    if "date" in values:
        values["date"] = i18n.long_date(date.fromisoformat(str(values["date"])))
    return i18n.gettext(STOCK_WARNING_TEXTS[warning.code], **values)


# t(text): the translation of text that is only known at render time (an error, a label
# from a list); unlike _() it returns plain text, so autoescaping still applies to it.
environment.globals.update(
    PAGE_GLOBALS,
    t=i18n.gettext,
    warning_text=warning_text,
    fmt_phone=pickers.phone_text,
    product_name=product_name,
    phone_link=pickers.phone_link,
)


def safe_next(target: str | None, default: str) -> str:
    """A redirect target from a query or form: only a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render(
    request: Request,
    template: str,
    *,
    actor: Actor | None = None,
    status_code: int = 200,
    language: str | None = None,
    time_zone: str | None = None,
    **context: Any,
) -> HTMLResponse:
    settings = request.app.state.settings
    preferred = actor.user.preferred_language if actor else None
    lang = language or i18n.request_language(request, preferred)
    i18n.use_language(lang)
    zone = time_zone or (actor.location.time_zone if actor else "America/New_York")
    values: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "csrf_field": CSRF_FIELD,
        "csrf_token": token_for(request, settings.secret_key),
        "actor": actor,
        "can": {p.value: actor.can(p) for p in Permission} if actor else {},
        "time_zone": zone,
        "fmt_datetime": lambda instant, style="medium": i18n.local_datetime(instant, zone, style),
        "fmt_time": lambda instant: i18n.local_time(instant, zone),
        "fmt_date": lambda day: i18n.long_date(day, zone),
        "fmt_day": i18n.short_day,
        "zone_label": i18n.zone_label(zone),
        "times_by_day": lambda rows: pickers.times_by_day(rows, zone),
        "notice": request.query_params.get("notice"),
    }
    values.update(context)
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers={"Content-Language": lang})
    new_nonce = getattr(request.state, "new_csrf_nonce", None)
    if new_nonce:
        response.set_cookie(CSRF_COOKIE, new_nonce, httponly=True, samesite="strict")
    return response


def side_home(path: str) -> str:
    """The start page of the part of the site a path belongs to (an error page links to it)."""
    for prefix, home in (
        ("/helpdesk/agent", "/helpdesk/agent/queue"),
        ("/helpdesk", "/helpdesk"),
        ("/find", "/find"),
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return home
    return "/portal"


def error_page(request: Request, exc: ApiError, login_path: str) -> Response:
    if isinstance(exc, Unauthorized):
        return redirect(f"{login_path}?next={quote(request.url.path)}")
    status = http_status(exc)
    return render(
        request, "error.html", status_code=status, status=status, error=exc, home=side_home(request.url.path)
    )


def install_page_not_found(app: FastAPI) -> None:
    """A browser opening an address with no page gets an HTML 404 page in its language (the
    one error no page route sees); every other client keeps the JSON answer of api/errors.py."""
    json_answer = app.exception_handlers[StarletteHTTPException]

    async def answer(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and request.method in ("GET", "HEAD") and _from_browser(request.scope):
            return error_page(request, NotFound(N_("There is no page at this address.")), "/portal/login")
        return await json_answer(request, exc)

    app.add_exception_handler(StarletteHTTPException, answer)


class PageRoute(APIRoute):
    """A route that answers in HTML: a missing login goes to the login page, and every
    other refusal (403, 404, 409, 422) is an error page with the same status code."""

    login_path = "/portal/login"

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        login_path = self.login_path

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return error_page(request, exc, login_path)
            except RequestValidationError:
                return error_page(request, Unprocessable("This address is not valid."), login_path)

        return page_handler


class BrowserRoute(PageRoute):
    """Takes a request only when a browser made it (a GET accepting HTML, or a form post);
    the JSON route at the same path answers every other client."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.FULL and not _from_browser(scope):
            return Match.NONE, {}
        return match, child


def _from_browser(scope: Scope) -> bool:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    if scope.get("method") in ("GET", "HEAD"):
        return "text/html" in headers.get("accept", "")
    content_type = headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


# Short words for pydantic's error types (English source text; pages translate them).
FIELD_ERROR_TEXTS = {
    "missing": N_("Required."),
    "string_too_short": N_("Required."),
    "string_too_long": N_("Too long."),
    "date_from_datetime_parsing": N_("Enter a date."),
    "date_parsing": N_("Enter a date."),
    "date_type": N_("Enter a date."),
    "literal_error": N_("Choose one of the options."),
    "enum": N_("Choose one of the options."),
    "string_pattern_mismatch": N_("This is not in the expected format."),
    "extra_cells": N_("This row has more cells than the header has columns."),
}


def error_text(code: str, message: str) -> str:
    """One field's error as a sentence a page shows with t(): the short words for its type, or
    the validator's own message (the catalog has the shared ones), first letter up, full stop."""
    known = FIELD_ERROR_TEXTS.get(code)
    if known is not None:
        return known
    text = message.removeprefix("Value error, ")
    if text.startswith("value is not a valid email address"):
        text = "enter a valid email address"
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def field_errors(exc: Any, across: tuple[str, str] | None = None) -> dict[str, str]:
    """pydantic's errors as one message per form field, in English source text: the
    template shows `_(message)`, so the page language decides the words. `across`: the field
    and the words for the model's own check across fields (e.g. an end before its start)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query")]
        field = loc[0] if loc else "form"
        code, text = error.get("type", ""), str(error.get("msg", "")).removeprefix("Value error, ")
        if field == "form" and across is not None:
            field, text = across
            found.setdefault(field, text)
            continue
        if code not in FIELD_ERROR_TEXTS and ": " in text and field == "form":
            field, text = text.split(": ", 1)  # model-level checks name their field first
        found.setdefault(field, error_text(code, text))
    return found


def refusal_errors(
    refused: ApiError, *, fields: dict[str, str] | None = None, words: dict[str, str] | None = None
) -> dict[str, str]:
    """A refusal from the API's function, beside the form fields it names (its `errors`), or
    above the form ("form"). `fields` renames the API's fields to the form's; `words` gives
    the page's own words (translated) for refusal codes whose message carries values."""
    message = (words or {}).get(refused.code or "", refused.message)
    named = [str(e["field"]) for e in refused.extra.get("errors", []) if isinstance(e, dict)]
    return {(fields or {}).get(name, name): message for name in named} or {"form": message}

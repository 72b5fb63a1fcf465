"""/dev/mail: every message the development SMTP capture server kept (dev stack only)."""

from __future__ import annotations

import secrets
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import Public, SettingsDep
from api.errors import NotFound
from api.security import CONTENT_SECURITY_POLICY
from notifications.capture import list_folder

router = APIRouter(prefix="/dev/mail", tags=["development"], dependencies=[Public])


def mail_folder(settings: SettingsDep):  # type: ignore[no-untyped-def]
    return settings.state_dir / "mail"


@router.get("", response_model=list[dict[str, Any]])
async def captured_mail(settings: SettingsDep, request: Request) -> list[dict[str, Any]]:
    if not settings.dev_stack:
        raise NotFound("not found")
    return list_folder(mail_folder(settings))


@router.get("/view", response_class=HTMLResponse)
async def captured_mail_page(settings: SettingsDep) -> HTMLResponse:
    if not settings.dev_stack:
        raise NotFound("not found")
    rows = []
    for msg in list_folder(mail_folder(settings)):
        attachments = ", ".join(escape(a["filename"] or "") for a in msg["attachments"]) or "—"
        rows.append(
            "<article>"
            f"<h2>{escape(msg['subject'] or '')}</h2>"
            f"<p><b>To</b> {escape(msg['to'] or '')} · <b>Date</b> {escape(msg['date'] or '')}"
            f" · <b>Language</b> {escape(msg['language'] or '')} · <b>Attachments</b> {attachments}</p>"
            f"<details open><summary>Text</summary><pre>{escape(msg['text'])}</pre></details>"
            f'<details><summary>HTML</summary><iframe sandbox srcdoc="{escape(msg["html"])}"'
            "></iframe></details>"
            "</article>"
        )
    body = "".join(rows) or "<p>No mail yet.</p>"
    # Its own style block, allowed by a nonce (the security middleware keeps a response's own policy).
    nonce, policy = secrets.token_urlsafe(16), CONTENT_SECURITY_POLICY
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8><title>cvms captured mail</title>"
        f"<style nonce={nonce}>body{{font-family:sans-serif;max-width:60em;margin:auto}}"
        "article{border-bottom:1px solid #ccc}pre{white-space:pre-wrap}iframe{width:100%;height:24em}</style>"
        f"<h1>Captured mail</h1>{body}</html>",
        headers={"Content-Security-Policy": policy.replace("style-src 'self'", f"style-src 'nonce-{nonce}'")},
    )

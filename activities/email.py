"""Email delivery through the outbox: each (key) is sent at most once.

The activity sends the message, then records the attempt under the message's
natural key (one write: sent, or the error); mail a person may answer is also
recorded before it leaves, so the answer finds its case. A retry (worker crash, relay
outage) finds the row: if it was sent it returns at once, otherwise it sends
again with the same Message-ID, so a relay that saw the first attempt can drop
the repeat. A message the API recorded in its own transaction is sent from
its row.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from email.message import Message

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.helpdesk_mail import compose_case_email
from domain.email import SET_PASSWORD_LINK, CalendarInvite, EmailRequest, EmailResult
from domain.helpdesk import CASE_MAIL, SURVEY_LINK, SURVEY_PURPOSE
from domain.security import (
    REQUESTER_SET_PASSWORD_PURPOSE,
    SET_PASSWORD_PURPOSE,
    password_fingerprint,
    sign_link,
)
from domain.settings import Settings
from notifications.invite import build_ics
from notifications.render import Attachment, render
from notifications.sender import Relay, build_message
from records.db import reading, transaction
from records.helpdesk import Requester
from records.outbox import OutboxMessage, new_outbox_row, record_attempt, record_outbox
from records.users import User

# Where each kind of account sets its password, and what its link is signed for.
SET_PASSWORD_PAGES = {
    "user": ("/portal/set-password", SET_PASSWORD_PURPOSE, User, "user_id"),
    "requester": ("/helpdesk/set-password", REQUESTER_SET_PASSWORD_PURPOSE, Requester, "requester_id"),
}

# Mail a requester answers by replying: the reply goes to the help-desk receiver.
REPLY_TO_HELP_DESK = frozenset(
    {"case_received", "case_note", "case_pending", "case_resolved", "case_reopened", "case_closed"}
)


class EmailActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.relay = Relay(settings)

    @activity.defn
    async def deliver_email(self, request: EmailRequest) -> EmailResult:
        """Sends a message: one given whole, or (no address: ``recorded_email``) the outbox row
        of its key, which the API recorded in the transaction that asked for it."""

        async def given(db: AsyncSession) -> EmailRequest:
            if await db.get(OutboxMessage, request.key) is not None:
                return request  # recorded already: the row is what is sent
            if CASE_MAIL in request.context:
                return await compose_case_email(db, request)
            if not request.to:
                raise ApplicationError(f"no outbox message {request.key}", non_retryable=True)
            return request

        result = await self.record_and_send(given)
        assert result is not None
        return result

    async def record_and_send(
        self,
        compose: Callable[[AsyncSession], Awaitable[EmailRequest | None]],
        *,
        record_first: bool = True,
    ) -> EmailResult | None:
        """Composes the message and finds its outbox row, sends it unless the row says it was sent,
        then records the attempt in one write; None when `compose` finds nothing to send.

        With `record_first` the compose runs in a write transaction (it may write: a survey row)
        that also records a new message before it leaves: a reply to help-desk mail finds its case
        through that row at once. Without, the compose only reads, beside SQLite's writer instead
        of queued behind it, and the message is first recorded with its attempt (journey mail,
        which nobody replies to: one write per message on the booking path)."""
        for attempt in (1, 2):
            try:
                async with (transaction if record_first else reading)(self.sessions) as db:
                    request = await compose(db)
                    if request is None:
                        return None
                    if record_first:
                        row = await record_outbox(db, request, self.settings)
                    else:
                        found = await db.get(OutboxMessage, request.key)
                        row = found or new_outbox_row(request, self.settings)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
                # A concurrent attempt recorded the same key first: the second pass finds its row.
        return await self.send_row(row)

    async def _send_and_record(self, row: OutboxMessage, message: Message, subject: str) -> None:
        try:
            await self.relay.send(message)
        except Exception as exc:
            async with transaction(self.sessions) as db:
                await record_attempt(db, row, subject=None, error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        async with transaction(self.sessions) as db:
            await record_attempt(db, row, subject=subject, error=None)

    async def set_password_link(self, kind: str, account_id: int) -> dict[str, str]:
        """A fresh single-use set-password link for the account, minted as the message is sent (each
        attempt mints its own; every one stops working once a password is set)."""
        path, purpose, model, id_field = SET_PASSWORD_PAGES[kind]
        async with transaction(self.sessions) as db:
            account = await db.get(model, account_id)
            if account is None:
                raise ApplicationError(f"no {kind} {account_id} to set a password for", non_retryable=True)
            was = password_fingerprint(account.password_hash)
        token = sign_link(self.settings.secret_key, purpose, {id_field: account_id, "was": was})
        base = self.settings.public_base_url.rstrip("/")
        return {"set_password_url": f"{base}{path}?token={token}"}

    def survey_links(self, survey: int) -> dict[str, str]:
        """The survey's good / bad links, minted as the message is sent: every spelling stops
        working once the survey is answered (the survey row, not the token, is spent)."""
        token = sign_link(self.settings.secret_key, SURVEY_PURPOSE, {"s": survey})
        page = f"{self.settings.public_base_url.rstrip('/')}/helpdesk/survey?token={token}"
        return {"survey_good_url": f"{page}&rating=good", "survey_bad_url": f"{page}&rating=bad"}

    async def send_row(self, row: OutboxMessage) -> EmailResult:
        """Sends an outbox row's message (unless it was already sent) and records the attempt."""
        key = row.key
        if row.sent_at is not None:
            return EmailResult(key=key, message_id=row.message_id, sent_now=False)
        stored = row.context or {}
        values = dict(stored.get("values", {}))
        link_for = values.pop(SET_PASSWORD_LINK, None)
        if link_for:
            values.update(await self.set_password_link(link_for["kind"], int(link_for["id"])))
        survey = values.pop(SURVEY_LINK, None)
        if survey:
            values.update(self.survey_links(int(survey)))
        rendered = render(row.template, row.language, values)
        if stored.get("invite"):
            invite = CalendarInvite(**stored["invite"])
            rendered = dataclasses.replace(
                rendered,
                attachments=(
                    Attachment(
                        filename="invite.ics",
                        # Without its charset a mail client reads the text as ASCII (Spanish garbled).
                        content_type=f"text/calendar; method={invite.method}; charset=utf-8",
                        data=build_ics(invite),
                    ),
                ),
            )
        message = build_message(
            settings=self.settings,
            to=row.to_address,
            message_id=row.message_id,
            language=row.language,
            email=rendered,
            reply_to=self.settings.helpdesk_mail_address if row.template in REPLY_TO_HELP_DESK else None,
        )
        # Shielded: once the relay may have the message, recording that it was sent
        # must finish even if the activity is cancelled (a worker shutting down),
        # or the retry would send it a second time.
        await asyncio.shield(self._send_and_record(row, message, rendered.subject))
        return EmailResult(key=key, message_id=row.message_id, sent_now=True)

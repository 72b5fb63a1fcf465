"""Every workflow and activity the cvms worker runs (one list, used by the worker and tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.email import EmailActivities
from activities.helpdesk import HelpdeskActivities
from activities.journey import JourneyActivities
from activities.uploads import UploadActivities
from activities.waitlist import WaitlistActivities
from domain.settings import Settings
from workflows.case import CaseWorkflow
from workflows.journey import JourneyWorkflow
from workflows.notify import SendEmailWorkflow
from workflows.uploads import RecipientUploadWorkflow
from workflows.waitlist import SeatHoldWorkflow, WaitlistWorkflow


def workflows() -> list[type]:
    return [
        SendEmailWorkflow,
        CaseWorkflow,
        JourneyWorkflow,
        WaitlistWorkflow,
        SeatHoldWorkflow,
        RecipientUploadWorkflow,
    ]


def activities(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> list[Callable[..., Any]]:
    email = EmailActivities(settings, sessions)
    helpdesk = HelpdeskActivities(settings, sessions)
    journey = JourneyActivities(settings, sessions)
    waitlist = WaitlistActivities(settings, sessions)
    uploads = UploadActivities(settings, sessions)
    return [
        email.deliver_email,
        helpdesk.record_case_change,
        journey.book_appointment,
        journey.reschedule_appointment,
        journey.change_appointment_status,
        journey.document_dose,
        journey.edit_dose,
        journey.remove_dose,
        journey.send_email,
        waitlist.announce_opening,
        waitlist.offer_open_seats,
        waitlist.settle_offer,
        waitlist.compose_offer_email,
        waitlist.end_seat_hold,
        uploads.register_chunk,
    ]

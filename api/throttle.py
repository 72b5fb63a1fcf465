"""Login throttling: too many failures for one login name (or, at four times the
limit, from one client address, since a clinic shares one) within the window
answers 429 until the window has passed."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import TooManyRequests
from domain.settings import Settings
from records.db import transaction, utcnow
from records.users import LoginFailure


def login_subjects(request: Request, login_name: str) -> list[str]:
    client = request.client.host if request.client else "unknown"
    return [f"login:{login_name.strip().casefold()}", f"ip:{client}"]


async def refuse_if_throttled(db: AsyncSession, settings: Settings, subjects: list[str]) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    for subject in subjects:
        failures = (
            await db.execute(
                select(func.count()).where(LoginFailure.subject == subject, LoginFailure.at >= since)
            )
        ).scalar_one()
        limit = settings.login_max_failures * (4 if subject.startswith("ip:") else 1)
        if failures >= limit:
            raise TooManyRequests(
                "too many failed logins; wait a few minutes and try again",
                code="login_throttled",
                retry_after_seconds=int(settings.login_window_seconds),
            )


async def record_failure(sessions: async_sessionmaker[AsyncSession], subjects: list[str]) -> None:
    """Written in its own transaction: the failed request's own transaction rolls back."""
    async with transaction(sessions) as db:
        for subject in subjects:
            db.add(LoginFailure(subject=subject))


async def clear_failures(db: AsyncSession, login_subject: str) -> None:
    await db.execute(delete(LoginFailure).where(LoginFailure.subject == login_subject))

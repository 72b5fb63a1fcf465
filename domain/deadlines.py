"""Deadlines of a request that waits on a workflow.

A caller that waits for a Workflow Update answers 503 when its deadline passes (no worker took
the update in time). The update is stamped with that instant (``answer_by``), and the workflow's
validator refuses it once the instant has passed: an update that a worker picks up after the
caller was told "nothing was changed" changes nothing, so the answer stays true.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TypeVar, cast

T = TypeVar("T")


def answer_by(argument: T, now: datetime, seconds: float) -> T:
    """The update argument stamped with the instant its caller stops waiting (when it has the field)."""
    if dataclasses.is_dataclass(argument) and not isinstance(argument, type):
        if any(f.name == "answer_by" for f in dataclasses.fields(argument)):
            return cast(T, dataclasses.replace(argument, answer_by=now + timedelta(seconds=seconds)))
    return argument


def too_late(stamp: datetime | None, now: datetime) -> bool:
    """True once the caller of a stamped update has stopped waiting (it was told nothing changed)."""
    return stamp is not None and now > stamp

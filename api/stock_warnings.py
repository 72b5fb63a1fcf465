"""Stock warnings as data: a code, the product, the values they name, and the message in English.

The API returns all four, so a client can read the message or act on the code; the pages show
the same warning in the reader's language from the code (TEXTS, translated in the catalog),
with the date in the reader's format.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from api.pages.i18n import N_

WarningCode = Literal["bookings_exceed_stock", "no_stock_for_slot", "seats_exceed_stock"]

# The English message of each code; %(date)s is an ISO date in `params` (pages format it).
TEXTS: dict[str, str] = {
    "bookings_exceed_stock": N_(
        "%(product)s: %(booked)s booked through %(date)s but only %(stock)s doses on hand "
        "(short by %(short)s)"
    ),
    "no_stock_for_slot": N_("No %(product)s doses are on hand at %(location)s for %(date)s"),
    "seats_exceed_stock": N_("%(seats)s open seats for %(product)s but only %(stock)s doses on hand"),
}


class StockWarning(BaseModel):
    code: WarningCode
    product_code: str
    params: dict[str, int | str] = Field(description="the values the message names (dates in ISO form)")
    message: str = Field(description="the warning in English")


def stock_warning(code: WarningCode, product_code: str, **values: int | str | date) -> StockWarning:
    params: dict[str, int | str] = {
        "product": product_code,
        **{k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()},
    }
    return StockWarning(code=code, product_code=product_code, params=params, message=TEXTS[code] % params)

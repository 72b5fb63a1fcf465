"""Loaders the dose routes and pages share."""

from __future__ import annotations

from api.deps import at_active_location
from records.journeys import Dose

DoseDep = at_active_location(Dose, id_name="dose_id", message="no such dose at this location", id_type=int)

"""Loaders of the scheduling area: a slot, a seat hold, an appointment at the active location or 404."""

from __future__ import annotations

from api.deps import at_active_location
from records.holds import SeatHold
from records.scheduling import Appointment, Slot

SlotDep = at_active_location(Slot, id_name="slot_id", id_type=int, message="no such slot at this location")


HoldDep = at_active_location(SeatHold, id_name="hold_id", message="no such seat hold at this location")


AppointmentDep = at_active_location(
    Appointment, id_name="appointment_id", id_type=int, message="no such appointment at this location"
)

"""Loader of the waitlist area: an entry at the active location or 404."""

from __future__ import annotations

from api.deps import at_active_location
from records.waitlist import WaitlistEntry

EntryDep = at_active_location(
    WaitlistEntry, id_name="entry_id", message="no such waitlist entry at this location"
)

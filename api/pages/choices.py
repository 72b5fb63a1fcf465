"""The words pages show for stored codes (English source text; templates translate them)."""

from __future__ import annotations

from api.pages.i18n import N_

SEXES = [("female", N_("Female")), ("male", N_("Male")), ("unknown", N_("Unknown")), ("other", N_("Other"))]
RACES = [
    ("american_indian_or_alaska_native", N_("American Indian or Alaska Native")),
    ("asian", N_("Asian")),
    ("black_or_african_american", N_("Black or African American")),
    ("native_hawaiian_or_other_pacific_islander", N_("Native Hawaiian or Other Pacific Islander")),
    ("white", N_("White")),
    ("other", N_("Other")),
    ("unknown", N_("Unknown")),
    ("declined", N_("Declined to answer")),
]
ETHNICITIES = [
    ("hispanic_or_latino", N_("Hispanic or Latino")),
    ("not_hispanic_or_latino", N_("Not Hispanic or Latino")),
    ("unknown", N_("Unknown")),
    ("declined", N_("Declined to answer")),
]
ROLES = [
    ("manager", N_("Location manager")),
    ("provider", N_("Healthcare provider")),
    ("scheduler", N_("Scheduler")),
    ("readonly", N_("Read-only")),
]
SITES = [
    ("left_deltoid", N_("Left deltoid")),
    ("right_deltoid", N_("Right deltoid")),
    ("left_thigh", N_("Left thigh")),
    ("right_thigh", N_("Right thigh")),
    ("other", N_("Other")),
]
ROUTES = [
    ("intramuscular", N_("Intramuscular")),
    ("subcutaneous", N_("Subcutaneous")),
    ("intradermal", N_("Intradermal")),
    ("intranasal", N_("Intranasal")),
    ("other", N_("Other")),
]
APPOINTMENT_STATUSES = [
    ("booked", N_("Booked")),
    ("checked_in", N_("Checked in")),
    ("completed", N_("Completed")),
    ("cancelled", N_("Cancelled")),
    ("missed", N_("Missed")),
]
WAITLIST_STATUSES = [
    ("waiting", N_("Waiting")),
    ("offered", N_("Offered a seat")),
    ("booked", N_("Booked")),
    ("lapsed", N_("Offer expired")),
    ("removed", N_("Removed")),
]
LANGUAGE_OPTIONS = [("en", "English"), ("es", "Español")]

# A waitlist form's one check across its fields (api.waitlist.Dates), said beside the last day.
DATES_IN_ORDER = ("latest_date", N_("The last day must not be before the first."))

# After a change, the page it redirects to says what happened (?notice=key).
NOTICES = {
    "registered": N_("The recipient is registered."),
    "saved": N_("Your changes are saved."),
    "logged_out": N_("You are logged out."),
    "password_set": N_("Your password is set. Log in with it now."),
    "user_added": N_("The user is added to this location."),
    "role_changed": N_("The role is changed."),
    "user_removed": N_("The user no longer has a role at this location."),
    "location_switched": N_("You are now working at this location."),
    "appointment_booked": N_("The appointment is booked."),
    "appointment_cancelled": N_("The appointment is cancelled."),
    "appointment_rescheduled": N_("The appointment is moved."),
    "checked_in": N_("The recipient is checked in."),
    "dose_documented": N_("The dose is documented."),
    "dose_documented_with_warning": N_("The dose is documented, with a warning: see the dose below."),
    "dose_edited": N_("The dose is corrected."),
    "dose_removed": N_("The dose is removed as entered in error; the series steps back."),
    "slot_published": N_("The slot is published."),
    "slot_published_low_stock": N_("The slot is published, but the stock on hand may not cover it:"),
    "slot_closed": N_("The slot is closed to new bookings."),
    "seat_released": N_("The held seat is given back."),
    "waitlist_joined": N_(
        "The recipient is on this location's waitlist; a seat that frees up is offered by email."
    ),
    "waitlist_removed": N_("The entry is taken off the waitlist."),
    "lot_added": N_("The lot is added."),
    "stock_received": N_("The doses are added to the inventory."),
    "waste_logged": N_("The waste is logged."),
    "transfer_proposed": N_("The transfer is proposed; it completes when the receiving manager confirms."),
    "transfer_confirmed": N_("Your confirmation is recorded."),
    "transfer_cancelled": N_("The transfer is cancelled."),
    "listing_posted": N_("Your listing is posted."),
    "listing_matched": N_(
        "Your listing matched another location's: confirm the transfer on the inventory page."
    ),
    "listing_saved": N_("The public listing is saved."),
    "release_opened": N_("The release is open: people who book from the finder now join the line."),
    "condition_recorded": N_("The condition is recorded; the recipient's schedule follows it."),
    "condition_removed": N_("The condition is removed from the recipient."),
    "schedule_saved": N_("The new version of the schedule is saved; next doses follow it from now on."),
}

# Conditions recorded on a recipient that change their schedule (domain.schedules.CONDITIONS).
CONDITION_NAMES = {"immunocompromised": N_("immunocompromised")}

# The recipient's own pages say it in the second person.
RECIPIENT_NOTICES = {
    "appointment_booked": N_("Your appointment is booked. We sent you an email with the details."),
    "appointment_cancelled": N_("Your appointment is cancelled."),
    "appointment_rescheduled": N_("Your appointment is moved. We sent you an email with the new time."),
    "waitlist_joined": N_(
        "You are on the waitlist. When a seat frees up between your dates, we email you and hold it "
        "for you for a short time."
    ),
    "waitlist_already": N_("You were already on this waitlist; nothing was changed."),
}

PAGE_GLOBALS = {
    "sexes": SEXES,
    "sex_names": dict(SEXES),
    "races": RACES,
    "race_names": dict(RACES),
    "ethnicities": ETHNICITIES,
    "ethnicity_names": dict(ETHNICITIES),
    "role_options": ROLES,
    "role_names": dict(ROLES),
    "language_options": LANGUAGE_OPTIONS,
    "notices": NOTICES,
    "condition_names": CONDITION_NAMES,
    "sites": SITES,
    "site_names": dict(SITES),
    "routes": ROUTES,
    "route_names": dict(ROUTES),
    "statuses": APPOINTMENT_STATUSES,
    "waitlist_statuses": WAITLIST_STATUSES,
    "waitlist_status_names": dict(WAITLIST_STATUSES),
    "status_names": dict(APPOINTMENT_STATUSES),
}

# What the shared services and checks say, as pages show it (first letter up, full stop);
# listed here so the catalog carries their translations.
SERVICE_MESSAGES = [
    N_("login name or password is wrong"),
    N_("too many failed logins; wait a few minutes and try again"),
    N_("This form did not come from this site or has expired. Go back, reload the page and try again."),
    N_("This address is not valid."),
    N_("Choose one of your locations."),
    N_("you hold no role at that location"),
    N_("choose an active location first"),
    N_("you hold no role at your active location"),
    N_("no such recipient"),
    N_("no such user at this location"),
    N_("Enter at least two letters of the name."),
    N_("Enter at least 4 digits of the phone number."),
    N_("Search by name (the date of birth narrows it), by phone, or by email."),
    N_("Enter a 10-digit phone number."),
    N_("Date of birth must be between 1900 and today."),
    N_("Enter a valid email address."),
    N_("Use 3-80 letters, digits, '.', '_', '@' or '-'."),
    N_("this login already holds a role at this location; change the role instead"),
    N_("this login name is taken by someone else; to add them, give the email their login has"),
    N_("you cannot remove your own manager role; ask another manager"),
    N_("you cannot remove yourself from the location"),
    N_("this link has already been used"),
    N_("This slot is full; choose another."),
    N_("this slot is closed to bookings"),
    N_("this slot is over; choose a later one"),
    N_("this recipient is already on this waitlist"),
    N_("these dates are over"),
    N_("this slot would already be over"),
    N_("this link is not valid"),
    N_("this link has expired"),
    N_("this is a help-desk account; it has no access to the provider portal"),
    N_("Enter the date of birth as 1975-06-30 or 6/30/1975."),
]

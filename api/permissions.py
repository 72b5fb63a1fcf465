"""What each role may do at a location. Routes name a permission, never a role."""

from __future__ import annotations

import enum

from records.users import Role


class Permission(enum.StrEnum):
    read = "read"  # see recipients, appointments, doses at the location
    register = "register"  # register / edit recipients, check in
    document = "document"  # document, edit, remove doses
    schedule = "schedule"  # book, reschedule, cancel, mark no-show
    manage = "manage"  # users, slots, inventory of the location


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.manager: frozenset(Permission),
    Role.provider: frozenset({Permission.read, Permission.register, Permission.document}),
    Role.scheduler: frozenset({Permission.read, Permission.register, Permission.schedule}),
    Role.readonly: frozenset({Permission.read}),
}


def allows(role: str, permission: Permission) -> bool:
    return permission in GRANTS.get(Role(role), frozenset())

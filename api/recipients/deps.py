"""Loader of the uploads: an upload of the active location or 404."""

from __future__ import annotations

from api.deps import Manager, at_active_location
from records.uploads import RecipientUpload

# An upload of the active location; another location's is a 404.
UploadDep = at_active_location(
    RecipientUpload, id_name="upload_id", message="no such upload at this location", actor=Manager
)

"""Loaders of the inventory area: a lot of the location, a transfer it sends or receives, or 404."""

from __future__ import annotations

from sqlalchemy import or_

from api.deps import at_active_location
from records.inventory import Transfer
from records.products import InventoryLot

# A lot of the active location; another location's lot is a 404.
LotDep = at_active_location(InventoryLot, id_name="lot_id", message="no such lot at this location")


# A transfer the active location sends or receives; anyone else's is a 404.
TransferDep = at_active_location(
    Transfer,
    id_name="transfer_id",
    message="no such transfer for this location",
    where=lambda model, here: or_(model.from_location_id == here, model.to_location_id == here),
)

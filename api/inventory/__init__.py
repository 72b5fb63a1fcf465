"""Inventory and the marketplace between locations: stock, lots, transfers, offers and requests."""

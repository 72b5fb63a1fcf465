"""Recipients: find, register, read and edit; CSV uploads (JSON routes, pages, schemas)."""

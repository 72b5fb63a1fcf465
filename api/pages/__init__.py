"""Server-rendered pages (Jinja2) on the same app, dependencies and service functions as the
JSON API: a page route depends on the same role-checked actors and calls the same code, so the
browser can do exactly what the role allows and nothing more."""

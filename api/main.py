"""ASGI entry point: `uvicorn api.main:app`."""

from api.app import create_app
from domain.settings import get_settings
from services.telemetry import configure_logging, configure_tracing

# In every uvicorn worker process: JSON logs, and the tracer provider the Temporal client uses.
configure_logging()
configure_tracing(get_settings().traces_file)
app = create_app()

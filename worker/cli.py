"""The `cvms` command: dev, migrate, seed, worker, mail-receiver, api."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import typer

from domain.settings import check_keys, load_settings

app = typer.Typer(help="cvms: vaccination programme and help desk on Temporal", no_args_is_help=True)


@app.command()
def dev() -> None:
    """Run the whole embedded stack in the foreground (Temporal, SMTP capture, worker, API)."""
    from worker.dev import run_dev

    run_dev(load_settings())


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    from records.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    typer.echo("migrations applied")


@app.command()
def seed() -> None:
    """Add the demo data (once)."""
    from records.db import make_engine, make_sessionmaker
    from worker.seed import seed as run_seed

    settings = load_settings()

    async def _run() -> bool:
        engine = make_engine(settings.database_url)
        try:
            return await run_seed(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    typer.echo("demo data seeded" if asyncio.run(_run()) else "demo data already present")


@app.command()
def export(
    since: str | None = typer.Option(
        None, help="Doses documented, edited or removed since this ISO 8601 time (with its offset, e.g. …Z)"
    ),
    export_format: str = typer.Option("fhir", "--format", help="fhir (R4 Bundle) or vxu (HL7 2.5.1)"),
    recipient: int | None = typer.Option(None, help="Export this recipient's doses, wherever given"),
    location: str | None = typer.Option(None, help="Only doses documented at this location code"),
    output: Path | None = typer.Option(None, help="Write to this file instead of standard output"),
) -> None:
    """Export documented doses for the state immunization registry."""
    from records.db import make_engine, make_sessionmaker
    from services.exports import ExportFormat, export_text

    if (since is None) == (recipient is None):
        raise typer.BadParameter("give either --since or --recipient")
    try:
        chosen = ExportFormat(export_format)
    except ValueError:
        raise typer.BadParameter("--format must be fhir or vxu") from None
    since_at = None
    if since is not None:
        try:
            since_at = datetime.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter("--since must be an ISO 8601 time") from None
        if since_at.tzinfo is None:
            raise typer.BadParameter("--since needs a UTC offset, e.g. 2026-11-01T00:00:00Z")
    settings = load_settings()

    async def _run() -> str:
        engine = make_engine(settings.database_url)
        try:
            return await export_text(
                make_sessionmaker(engine),
                settings,
                chosen,
                since=since_at,
                recipient_id=recipient,
                location_code=location,
            )
        finally:
            await engine.dispose()

    try:
        content = asyncio.run(_run())
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if output is None:
        typer.echo(content, nl=False)
    else:
        output.write_bytes(content.encode())  # as is: HL7 segments end with \r
        typer.echo(f"wrote {output}", err=True)


@app.command()
def worker() -> None:
    """Run a Temporal worker for the cvms task queue."""
    from services.telemetry import configure_logging
    from worker.main import run_worker

    configure_logging()
    asyncio.run(run_worker(check_keys(load_settings())))


@app.command("mail-receiver")
def mail_receiver(
    lmtp: bool = typer.Option(False, help="Speak LMTP (a mail server relays to it) instead of SMTP"),
) -> None:
    """Receive help-desk email (SMTP on CVMS_MAIL_RECEIVER_HOST:PORT): new cases and replies."""
    from services.telemetry import configure_logging
    from worker.mail_receiver import run_receiver

    configure_logging()
    asyncio.run(run_receiver(check_keys(load_settings()), lmtp=lmtp))


@app.command()
def api(workers: int = typer.Option(1, help="uvicorn worker processes")) -> None:
    """Serve the HTTP API with uvicorn."""
    import uvicorn

    from services.telemetry import configure_logging

    settings = check_keys(load_settings())  # before uvicorn: the error names the setting and exits
    configure_logging()
    uvicorn.run(
        "api.main:app",
        host=settings.api_host,
        port=settings.api_port,
        workers=workers,
        log_level="info",
        # X-Forwarded-For/-Proto are believed only from CVMS_TRUSTED_PROXIES (api/origin.py),
        # not from whatever uvicorn trusts by default (127.0.0.1).
        proxy_headers=False,
        log_config=None,  # keep cvms's JSON lines (services/telemetry.py)
    )


if __name__ == "__main__":
    app()

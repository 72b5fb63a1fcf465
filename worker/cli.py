"""The `cvms` command: dev, migrate, seed, worker, api."""

from __future__ import annotations

import asyncio
import logging

import typer

from worker.settings import load_settings

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
def worker() -> None:
    """Run a Temporal worker for the cvms task queue."""
    from worker.main import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run_worker(load_settings()))


@app.command()
def api(workers: int = typer.Option(1, help="uvicorn worker processes")) -> None:
    """Serve the HTTP API with uvicorn."""
    import uvicorn

    settings = load_settings()
    uvicorn.run(
        "api.main:app",
        host=settings.api_host,
        port=settings.api_port,
        workers=workers,
        log_level="info",
    )


if __name__ == "__main__":
    app()

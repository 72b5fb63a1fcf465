"""Fixtures for the browser tests: the app served over real HTTP, and Debian's headless
Chromium driven by Playwright (installed from Debian's packages when missing; never a
browser download). Screenshots go to test-artifacts/ (git-ignored) for reviewers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from worker.devserver import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def install_chromium() -> str | None:
    """Makes sure Debian's chromium is there; returns why it cannot be, or None."""
    if CHROMIUM.exists():
        return None
    if not shutil.which("apt-get"):
        return "chromium is not installed and this system has no apt-get to install it"
    if os.geteuid() != 0:
        return "chromium is not installed and installing it from Debian's packages needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}"
    return None if CHROMIUM.exists() else "apt-get installed chromium but /usr/bin/chromium is missing"


class _InProcessServer(uvicorn.Server):
    # pytest owns the signals; the server is stopped through should_exit.
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serves an app (same database, Temporal and worker as the tests) over real HTTP."""
    port = free_port()
    server = _InProcessServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 30
    while not server.started:
        if serving.done() or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"the test HTTP server did not start on port {port}")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@pytest.fixture(scope="session")
async def live_server(app: Any) -> AsyncIterator[str]:
    """The test app on a real port."""
    async with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    problem = await asyncio.to_thread(install_chromium)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI, but: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any, live_server: str) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = await browser.new_context(
        base_url=live_server, locale="en-US", viewport={"width": 1200, "height": 900}
    )
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    yield opened
    await context.close()


async def screenshot(page: Any, name: str) -> None:
    """Saves the whole page as test-artifacts/<name>.png for a reviewer to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def assert_accessible(page: Any) -> None:
    """axe-core's checks (WCAG 2 A and AA) on the page as it is shown: no violation."""
    from axe_playwright_python.async_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    results = await Axe().run(page, options={**options, "resultTypes": ["violations"]})
    assert results.violations_count == 0, results.generate_report()

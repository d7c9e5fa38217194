"""Fixtures for end-to-end tests: real server processes, Redis, and headless Chromium."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import ServerProcess, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Starts server processes (stopped at the end); each call takes env overrides."""
    started: list[ServerProcess] = []

    def start(
        env: dict[str, str] | None = None, port: int | None = None, name: str = "server", kind: str = "daphne"
    ) -> ServerProcess:
        server = ServerProcess(port or free_port(), tmp_path, env, name, kind).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def browser():
    """Headless Chromium through Playwright (sync API; tests using it are collected last)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            yield instance
            instance.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

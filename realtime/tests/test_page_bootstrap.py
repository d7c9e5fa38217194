"""The page bootstrap (static/realtime/page.js) in headless Chromium against real daphne processes:
the connection indicator in the header of every page, its latency, and "Retry now"."""

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

User = get_user_model()
pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000
LATENCY = re.compile(r"^(<1|\d+) ms$")


@pytest.fixture
def ann() -> User:
    return User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")


def signed_in_context(browser: Browser, user: User) -> BrowserContext:
    """A browser context carrying a session of `user` (cookies are per host, so any port)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": "/"}])
    return context


def record_frames(page: Page) -> list[dict[str, Any]]:
    """Every frame the page sends on its WebSockets, parsed."""
    sent: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    return sent


def joined_topics(sent: list[dict[str, Any]]) -> list[str]:
    return [frame["topic"] for frame in sent if frame.get("op") == "join"]


def wait_until(page: Page, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)  # lets Playwright deliver the frame events


def expect_open_with_latency(page: Page) -> None:
    expect(page.locator("#connection-state")).to_have_text("connected", timeout=WAIT_MS)
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "open")
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    expect(page.locator("#connection-latency")).to_be_visible()
    expect(page.locator("#connection-latency")).to_have_text(LATENCY)
    expect(page.locator("#connection-retry")).to_be_hidden()


def test_home_shows_the_connection_open_with_its_latency_signed_in(servers, browser, ann):
    server = servers(name="page")
    page = signed_in_context(browser, ann).new_page()
    sent = record_frames(page)
    page.goto(f"{server.url}/")
    expect_open_with_latency(page)
    # A signed-in page joins the inbox once, for every app module on it.
    page.wait_for_function("window.realtimePage.inbox.reply !== null", timeout=WAIT_MS)
    wait_until(page, lambda: joined_topics(sent) == ["inbox"])
    assert page.evaluate("window.realtimePage.rt.user.username") == "ann"
    expect(page.locator("#notify-permission")).to_have_count(1)


@pytest.mark.parametrize("path", ["/", "/accounts/login/"])
def test_pages_show_the_connection_open_with_its_latency_anonymous(servers, browser, path):
    server = servers(name="page")
    page = browser.new_page()
    sent = record_frames(page)
    page.goto(f"{server.url}{path}")
    expect_open_with_latency(page)
    assert page.evaluate("window.realtimePage.rt.user") is None
    assert page.evaluate("window.realtimePage.inbox.enabled") is False
    assert joined_topics(sent) == []  # anonymous pages do not join the inbox
    expect(page.locator("#notify-permission")).to_have_count(0)
    page.close()


def test_killed_server_shows_reconnecting_and_retry_now_reconnects_at_once(servers, browser, ann):
    server = servers(name="page")
    context = signed_in_context(browser, ann)
    page = context.new_page()
    sent = record_frames(page)
    # The page's timers are Playwright's: paused below, the client's own reconnect
    # never fires, so only the button can bring the connection back.
    page.clock.install()
    page.goto(f"{server.url}/")
    expect_open_with_latency(page)
    page.wait_for_function("window.realtimePage.inbox.reply !== null", timeout=WAIT_MS)
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)

    port = server.port
    server.kill()
    expect(page.locator("#connection-state")).to_have_text("reconnecting", timeout=WAIT_MS)
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#connection-latency")).to_be_hidden()
    retry = page.get_by_role("button", name="Retry now")
    expect(retry).to_be_visible()

    servers(port=port, name="page-restarted")
    page.wait_for_timeout(1500)  # the server is back; the paused backoff timer has not reconnected
    expect(page.locator("#connection-state")).to_have_text("reconnecting")

    retry.click()
    expect_open_with_latency(page)
    # The inbox came back with the connection.
    wait_until(page, lambda: joined_topics(sent) == ["inbox", "inbox"])
    page.clock.resume()
    context.close()

"""The bell in headless Chromium against a real daphne process: a follow lights it up live,
and marking all read on one tab clears it on the other."""

import json
import urllib.request

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, expect

from accounts.models import User
from realtime.testing import token_for

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000

HIDDEN_TAB_WITH_NOTIFICATIONS = """
Object.defineProperty(document, 'hidden', { get: () => true, configurable: true });
window.shownNotifications = [];
window.Notification = class {
  static permission = 'granted';
  static requestPermission() { return Promise.resolve('granted'); }
  constructor(title, options = {}) { window.shownNotifications.push({ title, body: options.body }); }
};
"""


def signed_in_context(browser: Browser, user: User, init_script: str | None = None) -> BrowserContext:
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": "/"}])
    if init_script:
        context.add_init_script(init_script)
    return context


def follow_over_rest(server_url: str, follower: User, followee: User) -> None:
    request = urllib.request.Request(  # noqa: S310 (the test's own server)
        f"{server_url}/api/users/{followee.pk}/follow/",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {token_for(follower)}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status in (200, 201), json.loads(response.read())


def test_a_follow_lights_the_bell_live_and_mark_all_read_clears_it_on_the_other_tab(servers, browser):
    ann = User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")
    ben = User.objects.create_user(username="ben", password="unused-pw-1", display_name="Ben")
    server = servers(name="notifications")
    context = signed_in_context(browser, ben, HIDDEN_TAB_WITH_NOTIFICATIONS)
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        tab.goto(f"{server.url}/")
        tab.wait_for_selector('#bell[data-inbox="joined"]', timeout=WAIT_MS)
        expect(tab.locator("#bell-count")).to_be_hidden()

    follow_over_rest(server.url, ann, ben)

    for tab in (first, second):
        expect(tab.locator("#bell-count")).to_have_text("1", timeout=WAIT_MS)
    first.click("#bell-button")
    item = first.locator("#bell-list .notification").first
    expect(item.locator(".notification-title")).to_have_text("Ann followed you", timeout=WAIT_MS)
    expect(item).to_have_attribute("data-read", "false")
    shown = first.evaluate("window.shownNotifications")
    assert {"title": "Ann followed you", "body": ""} in shown

    first.click("#bell-read-all")

    expect(second.locator("#bell-count")).to_be_hidden(timeout=WAIT_MS)
    expect(first.locator("#bell-count")).to_be_hidden(timeout=WAIT_MS)
    expect(item).to_have_attribute("data-read", "true", timeout=WAIT_MS)
    second.goto(f"{server.url}/notifications/")
    expect(second.locator("#notification-list .notification").first).to_have_attribute("data-read", "true")
    context.close()

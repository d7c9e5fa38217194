"""The shares pages in headless Chromium: the owner and a viewer in two browser contexts against a real
daphne process."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import User
from shares import services
from shares.models import Share

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000


@pytest.fixture
def owner() -> User:
    return User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")


@pytest.fixture
def goal(owner):
    return services.goal_create(user=owner, title="Run 100 km", unit="km", target=100)


def signed_in_context(browser: Browser, user: User) -> BrowserContext:
    """A browser context carrying a session of `user` (cookies are per host, so any port)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": "/"}])
    return context


def open_dashboard(context: BrowserContext, server) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/shares/")
    expect(page.locator("#connection-state")).to_have_text("connected", timeout=WAIT_MS)
    return page


def open_view(context: BrowserContext, server, share: Share, state: str = "live") -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/s/{share.token}/")
    expect(page.locator(".share-view")).to_have_attribute("data-state", state, timeout=WAIT_MS)
    return page


def test_owner_progress_moves_the_anonymous_viewers_bar_and_comments_go_both_ways(servers, browser, owner, goal):
    share = services.share_create(user=owner, title="My year")
    server = servers(name="shares")
    dashboard = open_dashboard(signed_in_context(browser, owner), server)
    viewer = open_view(browser.new_context(), server, share)

    bar = viewer.locator(f'.goal[data-goal-id="{goal.pk}"]')
    expect(bar).to_have_attribute("data-percent", "0")
    expect(viewer.locator("#owner-state")).to_have_text("owner online", timeout=WAIT_MS)
    share_item = dashboard.locator(f'.share[data-share-id="{share.pk}"]')
    expect(share_item.locator(".watching")).to_have_text("1 watching", timeout=WAIT_MS)
    expect(viewer.locator("#watching")).to_have_text("1 watching")

    form = dashboard.locator(f'#goal-list .goal[data-goal-id="{goal.pk}"] .progress-form')
    form.locator('input[name="delta"]').fill("25")
    form.locator('input[name="note"]').fill("long run")
    form.locator("button").click()
    expect(bar).to_have_attribute("data-percent", "25", timeout=WAIT_MS)
    expect(bar.locator(".goal-amount")).to_have_text("25 / 100 km")
    expect(viewer.locator("#update-list li").first).to_contain_text("updated progress on Run 100 km")

    viewer.fill("#comment-name", "Coach")
    viewer.fill("#comment-message", "Keep going!")
    expect(viewer.locator("#comment-count")).to_have_text("11")
    viewer.click("#comment-form button")
    owner_comment = share_item.locator(".comment", has_text="Keep going!")
    expect(owner_comment).to_contain_text("Coach", timeout=WAIT_MS)
    expect(viewer.locator("#comment-list .comment", has_text="Keep going!")).to_have_count(1)

    owner_comment.locator("button.hide").click()
    expect(viewer.locator("#comment-list .comment", has_text="Keep going!")).to_have_count(0, timeout=WAIT_MS)
    expect(owner_comment).to_have_count(0)

    share_item.locator("button.share-end").click()
    expect(viewer.locator("#share-ended")).to_be_visible(timeout=WAIT_MS)
    expect(viewer.locator("#share-ended")).to_contain_text("This share has ended")
    expect(viewer.locator("#share-main")).to_be_hidden()
    # A fresh visit to the link says so too.
    fresh = browser.new_context().new_page()
    fresh.goto(f"{server.url}/s/{share.token}/")
    expect(fresh.locator("#share-ended")).to_contain_text("This share has ended")


def test_a_wrong_password_is_refused_visibly_and_the_right_one_opens_the_share(servers, browser, owner, goal, settings):
    # The server process checks the password with the project's hashers, not the tests' fast MD5.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    share = services.share_create(user=owner, title="Secret", kind=Share.Kind.PASSWORD, password="open-sesame")
    server = servers(name="shares")
    viewer = open_view(browser.new_context(), server, share, state="locked")
    expect(viewer.locator("#share-main")).to_be_hidden()
    viewer.fill("#share-password-input", "wrong")
    viewer.click("#share-password button")
    expect(viewer.locator("#share-password-error")).to_have_text("Wrong password.", timeout=WAIT_MS)
    expect(viewer.locator("#share-main")).to_be_hidden()

    viewer.fill("#share-password-input", "open-sesame")
    viewer.click("#share-password button")
    expect(viewer.locator(".share-view")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(viewer.locator("#share-title")).to_have_text("Secret")
    expect(viewer.locator(f'.goal[data-goal-id="{goal.pk}"] .goal-title')).to_have_text("Run 100 km")


def test_the_owner_creates_a_password_share_on_the_dashboard(servers, browser, owner, goal):
    server = servers(name="shares")
    dashboard = open_dashboard(signed_in_context(browser, owner), server)
    dashboard.fill("#share-title", "For my coach")
    dashboard.check('input[name="kind"][value="password"]')
    dashboard.fill("#share-password", "coach-pass")
    dashboard.click("#share-form button[type=submit]")
    item = dashboard.locator(".share", has_text="For my coach")
    expect(item).to_have_count(1, timeout=WAIT_MS)
    share = Share.objects.get(title="For my coach")
    assert share.kind == Share.Kind.PASSWORD and share.password != "coach-pass"
    expect(item.locator(".share-link")).to_have_value(f"{server.url}/s/{share.token}/")


def test_the_owner_kicks_a_viewer_who_is_told_and_cannot_come_back(servers, browser, owner, goal):
    share = services.share_create(user=owner, title="My year")
    server = servers(name="shares")
    dashboard = open_dashboard(signed_in_context(browser, owner), server)
    viewer = open_view(browser.new_context(), server, share)
    item = dashboard.locator(f'.share[data-share-id="{share.pk}"]')
    expect(item.locator(".online-list li[data-role=viewer]")).to_have_count(1, timeout=WAIT_MS)
    item.locator(".online-list li[data-role=viewer] button.kick").click()
    expect(viewer.locator("#share-removed")).to_be_visible(timeout=WAIT_MS)
    expect(viewer.locator("#share-main")).to_be_hidden()
    expect(item.locator(".watching")).to_have_text("0 watching", timeout=WAIT_MS)
    again = open_view(browser.new_context(), server, share, state="refused")
    expect(again.locator("#share-removed")).to_contain_text("removed from this share")
    expect(again.locator("#share-password")).to_be_hidden()

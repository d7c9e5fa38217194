"""With WebSocket blocked in the browser, pages fall back to the HTTP transport and work the same:
a person chats and watches a share live, and the indicator says which transport carries it."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import User
from chat import services as chat_services
from shares import services as share_services

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000

# A network where WebSocket never opens (a proxy that drops the upgrade): every socket fails.
BLOCK_WEBSOCKET = """
window.blockedSockets = 0;
window.WebSocket = class {
  constructor(url) {
    window.blockedSockets++;
    this.url = url;
    this.readyState = 0;
    setTimeout(() => {
      this.readyState = 3;
      this.onerror && this.onerror({});
      this.onclose && this.onclose({ code: 1006, reason: '' });
    }, 20);
  }
  send() { throw new Error('InvalidStateError'); }
  close() {}
};
"""


def context_for(browser: Browser, user: User | None, blocked: bool) -> BrowserContext:
    context = browser.new_context()
    if user is not None:
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": "/"}]
        )
    if blocked:
        context.add_init_script(BLOCK_WEBSOCKET)
    return context


def expect_transport(page: Page, transport: str, label: str) -> None:
    expect(page.locator("#connection")).to_have_attribute("data-transport", transport, timeout=WAIT_MS)
    expect(page.locator("#connection-state")).to_have_text(label)


def test_chat_works_with_websocket_blocked_and_the_indicator_says_sse(servers, browser):
    ann = User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")
    ben = User.objects.create_user(username="ben", password="unused-pw-1", display_name="Ben")
    channel = chat_services.channel_create(user=ann, name="general")
    chat_services.channel_join(user=ben, channel_id=channel.pk)
    server = servers(name="fallback", kind="uvicorn")

    blocked = context_for(browser, ann, blocked=True).new_page()
    blocked.goto(f"{server.url}/chat/{channel.pk}/")
    blocked.wait_for_selector('.chat[data-joined="true"]', timeout=WAIT_MS)
    expect_transport(blocked, "sse", "connected · SSE")
    assert blocked.evaluate("window.blockedSockets") >= 2  # WebSocket was tried first

    normal = context_for(browser, ben, blocked=False).new_page()
    normal.goto(f"{server.url}/chat/{channel.pk}/")
    normal.wait_for_selector('.chat[data-joined="true"]', timeout=WAIT_MS)
    expect_transport(normal, "websocket", "connected")
    expect(blocked.locator("#online-list li")).to_have_text(["Ann", "Ben"], timeout=WAIT_MS)

    # Ephemeral events too (typing is forwarded at most once a second, so before any message).
    normal.fill("#message-input", "Hel")
    expect(blocked.locator("#typing")).to_have_text("Ben is typing…", timeout=WAIT_MS)
    blocked.fill("#message-input", "hello over SSE")
    blocked.press("#message-input", "Enter")
    mine = blocked.locator("#messages .msg", has_text="hello over SSE")
    expect(mine).to_have_attribute("data-status", "sent", timeout=WAIT_MS)
    expect(normal.locator("#messages .msg-body")).to_have_text(["hello over SSE"], timeout=WAIT_MS)

    normal.fill("#message-input", "and back over WebSocket")
    normal.press("#message-input", "Enter")
    expect(blocked.locator("#messages .msg-body")).to_have_text(
        ["hello over SSE", "and back over WebSocket"], timeout=WAIT_MS
    )
    # The session id never reaches the server's log (it is a capability, as secret as a token).
    log = server.log()
    assert "/rt/events?session=[redacted]" in log
    assert "session=" not in log.replace("session=[redacted]", "")


def test_an_anonymous_viewer_with_websocket_blocked_watches_a_share_live(servers, browser):
    owner = User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")
    goal = share_services.goal_create(user=owner, title="Run 100 km", unit="km", target=100)
    share = share_services.share_create(user=owner, title="My year")
    server = servers(name="fallback")  # daphne

    viewer = context_for(browser, None, blocked=True).new_page()
    viewer.goto(f"{server.url}/s/{share.token}/")
    expect(viewer.locator(".share-view")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect_transport(viewer, "sse", "connected · SSE")

    dashboard = context_for(browser, owner, blocked=False).new_page()
    dashboard.goto(f"{server.url}/shares/")
    expect(dashboard.locator("#connection-state")).to_have_text("connected", timeout=WAIT_MS)
    expect(viewer.locator("#owner-state")).to_have_text("owner online", timeout=WAIT_MS)

    form = dashboard.locator(f'#goal-list .goal[data-goal-id="{goal.pk}"] .progress-form')
    form.locator('input[name="delta"]').fill("25")
    form.locator("button").click()
    bar = viewer.locator(f'.goal[data-goal-id="{goal.pk}"]')
    expect(bar).to_have_attribute("data-percent", "25", timeout=WAIT_MS)

    viewer.fill("#comment-name", "Coach")
    viewer.fill("#comment-message", "Keep going over HTTP!")
    viewer.click("#comment-form button")
    share_item = dashboard.locator(f'.share[data-share-id="{share.pk}"]')
    expect(share_item.locator(".comment", has_text="Keep going over HTTP!")).to_contain_text("Coach", timeout=WAIT_MS)


def test_an_upload_with_websocket_blocked_shows_live_progress_over_sse(servers, browser, tmp_path, settings):
    from uploads.tests.conftest import jpeg_bytes, pdf_bytes

    ann = User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    server = servers({"MEDIA_ROOT": str(media)}, name="fallback")
    page = context_for(browser, ann, blocked=True).new_page()
    page.goto(f"{server.url}/uploads/")
    page.wait_for_selector('.uploads[data-ready="true"]', timeout=WAIT_MS)
    expect_transport(page, "sse", "connected · SSE")
    files = [
        {"name": "beach.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes(900, 600)},
        {"name": "ticket.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(300_000)},
    ]
    page.set_input_files("#upload-input", files)
    page.click("#upload-start")
    # The page's upload topic is joined over the HTTP transport: pushed progress, not its polling fallback.
    expect(page.locator("#upload-transport")).to_have_text("live", timeout=WAIT_MS)
    expect(page.locator(".uploads")).to_have_attribute("data-status", "completed", timeout=WAIT_MS)
    expect(page.locator("#upload-total-text")).to_have_text("100 %")
    expect(page.locator(".upload-file[data-status='completed']")).to_have_count(2)

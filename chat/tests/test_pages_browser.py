"""The chat pages in headless Chromium: two people in two browser contexts against real daphne processes."""

import json
import re
import time
import urllib.request
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from accounts import services as account_services
from accounts.models import User
from chat import services as chat_services
from chat.models import DirectMessage
from realtime.testing import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000

# Desktop notifications need a hidden tab and a granted permission; headless Chromium
# has neither, so the page gets a stand-in that records what it would have shown.
HIDDEN_TAB_WITH_NOTIFICATIONS = """
Object.defineProperty(document, 'hidden', { get: () => true, configurable: true });
Object.defineProperty(document, 'visibilityState', { get: () => 'hidden', configurable: true });
window.shownNotifications = [];
window.Notification = class {
  static permission = 'granted';
  static requestPermission() { return Promise.resolve('granted'); }
  constructor(title, options = {}) { window.shownNotifications.push({ title, body: options.body }); }
};
"""

NOTIFICATIONS_NOT_YET_ALLOWED = """
window.Notification = class {
  static permission = 'default';
  static requestPermission() { window.Notification.permission = 'granted'; return Promise.resolve('granted'); }
};
"""


@pytest.fixture
def people() -> dict[str, User]:
    """Ann and Ben are friends; Cy knows nobody."""
    users = {
        name: User.objects.create_user(username=name.lower(), password="unused-pw-1", display_name=name)
        for name in ("Ann", "Ben", "Cy")
    }
    account_services.user_follow(follower=users["Ann"], followee_id=users["Ben"].pk)
    account_services.user_follow(follower=users["Ben"], followee_id=users["Ann"].pk)
    return users


@pytest.fixture
def general(people: dict[str, User]):
    channel = chat_services.channel_create(user=people["Ann"], name="general")
    for name in ("Ben", "Cy"):
        chat_services.channel_join(user=people[name], channel_id=channel.pk)
    return channel


def signed_in_context(browser: Browser, user: User, init_script: str | None = None) -> BrowserContext:
    """A browser context carrying a session of `user` (cookies are per host, so any port)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": "/"}])
    if init_script:
        context.add_init_script(init_script)
    return context


def open_chat(context: BrowserContext, server: ServerProcess, path: str) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}{path}")
    page.wait_for_selector('.chat[data-joined="true"]', timeout=WAIT_MS)
    expect(page.locator("#connection-state")).to_have_text("connected")
    return page


def send(page: Page, text: str) -> None:
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def bodies(page: Page):
    return page.locator("#messages .msg-body")


def post_json(url: str, token: str, data: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (a local test server)
        url,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def test_channel_message_edit_and_delete_reach_the_other_person(servers, browser, people, general):
    server = servers(name="chat")
    ann = open_chat(signed_in_context(browser, people["Ann"]), server, f"/chat/{general.pk}/")
    ben_context = signed_in_context(browser, people["Ben"])
    ben_index = open_chat(ben_context, server, "/chat/")

    send(ann, "Hello Ben")
    mine = ann.locator("#messages .msg", has_text="Hello Ben")
    expect(mine).to_have_attribute("data-status", "sent")
    expect(mine.locator(".msg-status")).to_have_text("sent")
    # Ben is elsewhere: the channel shows one unread message in his list.
    expect(ben_index.locator(f'#channel-list [data-channel-id="{general.pk}"] .badge')).to_have_text("1")

    ben = open_chat(ben_context, server, f"/chat/{general.pk}/")
    expect(bodies(ben)).to_have_text(["Hello Ben"])
    # Opening the channel showed the newest message: read, and the badge clears everywhere.
    expect(ben_index.locator(f'#channel-list [data-channel-id="{general.pk}"] .badge')).to_be_hidden()
    expect(ben.locator("#online-list li")).to_have_text(["Ann", "Ben"])

    send(ann, "Second one")
    expect(bodies(ben)).to_have_text(["Hello Ben", "Second one"])
    expect(bodies(ann)).to_have_text(["Hello Ben", "Second one"])  # reply and live event: shown once

    message_id = mine.get_attribute("data-id")
    mine = ann.locator(f'#messages .msg[data-id="{message_id}"]')
    theirs = ben.locator(f'#messages .msg[data-id="{message_id}"]')
    expect(theirs.locator(".msg-edit")).to_have_count(0)  # not Ben's message
    mine.locator(".msg-edit").click()
    mine.locator(".msg-edit-input").fill("Hello Ben, edited")
    mine.locator(".msg-save").click()
    expect(theirs.locator(".msg-body")).to_have_text("Hello Ben, edited")
    expect(theirs.locator(".msg-edited")).to_be_visible()

    mine.locator(".msg-delete").click()
    mine.locator(".msg-delete", has_text="Confirm delete").click()
    expect(theirs.locator(".msg-body")).to_have_text("message deleted")
    expect(mine.locator(".msg-body")).to_have_text("message deleted")
    assert "Hello Ben" not in ben.locator("#messages").inner_text()
    expect(theirs).to_have_class("msg deleted")


def test_channel_history_loads_older_messages(servers, browser, people, general):
    for i in range(55):
        chat_services.message_create(user=people["Ben"], channel_id=general.pk, body=f"old {i}", client_id=f"o{i}")
    server = servers(name="chat")
    ann = open_chat(signed_in_context(browser, people["Ann"]), server, f"/chat/{general.pk}/")
    expect(bodies(ann)).to_have_count(50)  # the join reply's last 50
    expect(bodies(ann).first).to_have_text("old 5")
    ann.click("#load-older")
    expect(bodies(ann)).to_have_text([f"old {i}" for i in range(55)])
    expect(ann.locator("#load-older")).to_be_hidden()


def test_channel_typing_line_shows_and_clears(servers, browser, people, general):
    server = servers(name="chat")
    ann = open_chat(signed_in_context(browser, people["Ann"]), server, f"/chat/{general.pk}/")
    ben = open_chat(signed_in_context(browser, people["Ben"]), server, f"/chat/{general.pk}/")
    cy = open_chat(signed_in_context(browser, people["Cy"]), server, f"/chat/{general.pk}/")

    ann.fill("#message-input", "Hel")
    expect(ben.locator("#typing")).to_have_text("Ann is typing…")
    shown_at = time.monotonic()
    cy.fill("#message-input", "Hi")
    expect(ben.locator("#typing")).to_have_text("Ann and Cy are typing…")
    expect(ann.locator("#typing")).to_have_text("Cy is typing…")  # never one's own typing

    # No more typing events: the line clears about 3 s after the last one.
    expect(ben.locator("#typing")).to_have_text("", timeout=WAIT_MS)
    assert time.monotonic() - shown_at > 2.5

    # A message from someone ends their typing line at once.
    ann.fill("#message-input", "Hello")
    expect(ben.locator("#typing")).to_have_text("Ann is typing…")
    ann.press("#message-input", "Enter")
    expect(bodies(ben)).to_have_text(["Hello"])
    expect(ben.locator("#typing")).to_have_text("", timeout=1000)


def test_messages_sent_during_a_restart_appear_once_in_order(servers, browser, people, general):
    server = servers(name="chat")
    ann = open_chat(signed_in_context(browser, people["Ann"]), server, f"/chat/{general.pk}/")
    ben = open_chat(signed_in_context(browser, people["Ben"]), server, f"/chat/{general.pk}/")
    send(ann, "before the restart")
    expect(bodies(ben)).to_have_text(["before the restart"])

    port = server.port
    server.kill()
    expect(ann.locator("#connection-state")).to_have_text("reconnecting")
    expect(ann.locator("#connection-state")).to_have_attribute("data-state", "reconnecting")
    expect(ben.locator("#connection-state")).to_have_text("reconnecting")

    # Ann writes while disconnected: her page holds the message as "sending".
    send(ann, "queued by Ann")
    queued = ann.locator("#messages .msg", has_text="queued by Ann")
    expect(queued).to_have_attribute("data-status", "sending")

    # Ben posts over REST to another server process sharing the database.
    other = servers(name="chat-other")
    token = account_services.token_pair_create(user=people["Ben"])["access"]
    for i in range(3):
        post_json(
            f"{other.url}/api/chat/channels/{general.pk}/messages/",
            token,
            {"body": f"outage {i}", "client_id": f"outage-{i}"},
        )

    servers(port=port, name="chat-restarted")
    expected = ["before the restart", "outage 0", "outage 1", "outage 2", "queued by Ann"]
    for page in (ann, ben):
        expect(page.locator("#connection-state")).to_have_text("connected", timeout=20_000)
        expect(bodies(page)).to_have_text(expected, timeout=WAIT_MS)
    expect(queued).to_have_attribute("data-status", "sent")

    send(ben, "after the restart")
    expect(bodies(ann)).to_have_text([*expected, "after the restart"])
    assert general.messages.count() == 6


def test_direct_messages_between_friends_live_with_unread_and_notification(servers, browser, people):
    server = servers(name="chat")
    ann = open_chat(signed_in_context(browser, people["Ann"]), server, "/chat/dm/ben/")
    # Ben's list page sits in a hidden tab that has allowed notifications.
    ben_hidden = open_chat(signed_in_context(browser, people["Ben"], HIDDEN_TAB_WITH_NOTIFICATIONS), server, "/chat/")
    ann_in_ben_list = ben_hidden.locator(f'#friend-list [data-user-id="{people["Ann"].pk}"]')
    expect(ann_in_ben_list).to_have_attribute("data-online", "true")
    expect(ben_hidden.locator("#notify-permission")).to_be_hidden()

    send(ann, "Are you there?")
    expect(ann.locator("#messages .msg", has_text="Are you there?")).to_have_attribute("data-status", "sent")
    expect(ann_in_ben_list.locator(".badge")).to_have_text("1")
    ben_hidden.wait_for_function("window.shownNotifications.length === 1", timeout=WAIT_MS)
    assert ben_hidden.evaluate("window.shownNotifications") == [{"title": "Message from Ann", "body": "Are you there?"}]

    ben = open_chat(signed_in_context(browser, people["Ben"]), server, "/chat/dm/ann/")
    expect(bodies(ben)).to_have_text(["Are you there?"])
    expect(ben.locator("#peer-status")).to_have_text("online")
    # Shown to Ben in a visible tab: read, the badge clears, and Ann sees it was read.
    expect(ann_in_ben_list.locator(".badge")).to_be_hidden()
    expect(ann.locator("#messages .msg", has_text="Are you there?").locator(".msg-status")).to_have_text("read")

    ben.fill("#message-input", "Y")
    expect(ann.locator("#typing")).to_have_text("Ben is typing…")
    ben.fill("#message-input", "Yes!")
    ben.press("#message-input", "Enter")
    expect(bodies(ann)).to_have_text(["Are you there?", "Yes!"])
    expect(bodies(ben)).to_have_text(["Are you there?", "Yes!"])
    # Ann's page read Ben's answer; on Ben's page his own message turns "read", Ann's stays unmarked.
    expect(ben.locator("#messages .msg", has_text="Yes!")).to_have_attribute("data-read", "true")
    expect(ben.locator("#messages .msg", has_text="Are you there?")).to_have_attribute("data-read", "false")

    mine = ann.locator("#messages .msg", has_text="Are you there?")
    mine.locator(".msg-edit").click()
    mine.locator(".msg-edit-input").fill("Are you there, Ben?")
    mine.locator(".msg-save").click()
    expect(bodies(ben)).to_have_text(["Are you there, Ben?", "Yes!"])
    assert ben_hidden.evaluate("window.shownNotifications.length") == 1  # edits do not notify

    ann.close()  # Ann's last connection: her dot turns off for Ben
    expect(ann_in_ben_list).to_have_attribute("data-online", "false")
    expect(ben.locator("#peer-status")).to_have_text("offline")


def test_direct_message_to_a_non_friend_is_refused_visibly(servers, browser, people):
    server = servers(name="chat")
    ann = open_chat(signed_in_context(browser, people["Ann"], NOTIFICATIONS_NOT_YET_ALLOWED), server, "/chat/dm/cy/")
    expect(ann.locator("#dm-not-friends")).to_be_visible()

    send(ann, "Hi stranger")
    message = ann.locator("#messages .msg", has_text="Hi stranger")
    expect(message).to_have_attribute("data-status", "failed")
    expect(message.locator(".msg-status")).to_have_text("failed")
    expect(ann.locator("#chat-error")).to_be_visible()
    expect(ann.locator("#chat-error")).to_contain_text("only between friends")
    assert list(DirectMessage.objects.values("sender__username", "recipient__username", "body")) == []

    # Every chat page offers to turn desktop notifications on.
    expect(ann.locator("#notify-state")).to_have_text("")
    ann.click("#notify-permission")
    expect(ann.locator("#notify-state")).to_have_text("Desktop notifications are on.")
    expect(ann.locator("#notify-permission")).to_be_hidden()


def test_friends_online_dots_come_from_the_inbox_join_after_a_reconnect(servers, browser, people):
    """Presence events lost while disconnected are not replayed: every (re)join sets the dots."""
    server = servers(name="chat")
    routes: list[WebSocketRoute] = []
    dropped: list[dict[str, Any]] = []

    def lose_presence_events(page_side: WebSocketRoute) -> None:
        # Forward everything but inbox `presence` events, as if they were sent while Ben was away.
        server_side = page_side.connect_to_server()
        routes.append(page_side)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("op") == "event" and frame.get("event") == "presence":
                dropped.append(frame["payload"])
            else:
                page_side.send(message)

        server_side.on_message(to_page)
        page_side.on_message(server_side.send)

    def reconnect() -> None:
        routes[-1].close(code=1011, reason="test outage")

    ben = signed_in_context(browser, people["Ben"]).new_page()
    ben.route_web_socket(re.compile(r"/ws/"), lose_presence_events)
    ben.goto(f"{server.url}/chat/")
    ben.wait_for_selector('.chat[data-joined="true"]', timeout=WAIT_MS)
    ann_dot = ben.locator(f'#friend-list [data-user-id="{people["Ann"].pk}"]')
    expect(ann_dot).to_have_attribute("data-online", "false")

    def wait_for_dropped(count: int) -> None:
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(dropped) < count:
            assert time.monotonic() < deadline, dropped
            ben.wait_for_timeout(50)  # lets Playwright run the route's handlers

    # Ann comes online; Ben's page misses the event and still shows her offline.
    ann = open_chat(signed_in_context(browser, people["Ann"]), server, "/chat/")
    wait_for_dropped(1)
    assert dropped == [{"user": {"id": people["Ann"].pk, "username": "ann", "display_name": "Ann"}, "online": True}]
    expect(ann_dot).to_have_attribute("data-online", "false")
    # Ben's connection drops and comes back: the inbox join reply's friends_online turns the dot on.
    reconnect()
    expect(ann_dot).to_have_attribute("data-online", "true")
    expect(ben.locator("#connection-state")).to_have_text("connected")
    assert len(routes) == 2

    # And off, the same way, after Ann leaves unseen.
    ann.close()
    wait_for_dropped(2)
    expect(ann_dot).to_have_attribute("data-online", "true")
    reconnect()
    expect(ann_dot).to_have_attribute("data-online", "false")
    expect(ann_dot.locator(".dot")).to_have_attribute("title", "offline")

"""Stored XSS, in real Chromium against one real server process: hostile strings as display
names, channel names and descriptions, channel and direct messages, share titles, goal titles
and descriptions, reflections, comments and anonymous names, notification titles and bodies, and upload
file names, rendered by every page that shows them, from the server's HTML, from join replies
and REST, and from live events. No script runs (the payloads set `window.__xss` or open a
dialog; neither happens), no element carries an event handler or a `javascript:` link, and
the text is shown literally.
"""

import json
import urllib.request
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from accounts import services as account_services
from accounts.models import User
from chat import services as chat_services
from chat.models import DirectMessage, Message
from notifications import services as notification_services
from notifications.models import Notification
from realtime.testing import token_for
from shares import services as share_services
from shares.models import Reflection, ShareComment
from uploads.models import UploadFile
from uploads.tests.conftest import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WAIT_MS = 10_000

IMG = "<img src=x onerror=__xss=1>"  # fits a comment's 40-character name
SVG = '"><svg onload=__xss=2>'
SCRIPT = "<script>__xss=3</script>"
LINK = "javascript:__xss=4"
NAME = IMG + SVG + SCRIPT  # 73: fits a channel name (80)
HOSTILE = f"{NAME} {LINK}"  # 92: fits a display name (100)

# Before any page script: a dialog or the payloads' assignment would be recorded.
TRAP = """
window.__dialogs = [];
for (const name of ['alert', 'confirm', 'prompt']) window[name] = (...args) => { window.__dialogs.push(args); };
"""

INJECTED = """() => ({
  xss: window.__xss === undefined ? null : window.__xss,
  dialogs: window.__dialogs.length,
  handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => /^on/i.test(a.name)))
    .map((el) => el.outerHTML.slice(0, 120)),
  links: [...document.querySelectorAll('a[href], iframe[src], form[action]')]
    .filter((el) => /^\\s*javascript:/i.test(['href', 'src', 'action'].map((a) => el.getAttribute(a)).join('')))
    .map((el) => el.outerHTML.slice(0, 120)),
  // Executable scripts only (json_script's <script type="application/json"> carries the data).
  scripts: [...document.scripts]
    .filter((s) => (!s.type || /javascript|module/i.test(s.type)) && s.textContent.includes('__xss')).length,
})"""


def signed_in(browser: Browser, user: User) -> BrowserContext:
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": "127.0.0.1", "path": "/"}])
    context.add_init_script(TRAP)
    return context


def anonymous(browser: Browser) -> BrowserContext:
    context = browser.new_context()
    context.add_init_script(TRAP)
    return context


def nothing_ran(page: Page, where: str) -> None:
    found = page.evaluate(INJECTED)
    assert found == {"xss": None, "dialogs": 0, "handlers": [], "links": [], "scripts": 0}, (where, found)


def shows(page: Page, *texts: str) -> None:
    """Each text appears literally, as text (hidden parts such as menus included)."""
    for text in texts:
        try:
            page.wait_for_function("(text) => document.body.textContent.includes(text)", arg=text, timeout=WAIT_MS)
        except PlaywrightTimeout:
            pytest.fail(f"{text!r} is not shown on {page.url}:\n{page.locator('body').text_content()}")


def visit(context: BrowserContext, url: str, ready: str) -> Page:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(ready, timeout=WAIT_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-module]')].every((el) => el.dataset.mounted === 'true')",
        timeout=WAIT_MS,
    )
    return page


def post_json(url: str, user: User, data: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (the test's own server)
        url,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token_for(user)}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


@pytest.fixture
def hostile_world() -> dict[str, Any]:
    ann = User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")
    ben = User.objects.create_user(username="ben", password="unused-pw-1", display_name=HOSTILE)
    # Through the services, so the follow notifications ("<ben> followed you", "You and <ben> ...") exist.
    account_services.user_follow(follower=ben, followee_id=ann.pk)
    account_services.user_follow(follower=ann, followee_id=ben.pk)
    channel = chat_services.channel_create(user=ann, name=NAME, description=HOSTILE)
    chat_services.channel_join(user=ben, channel_id=channel.pk)
    chat_services.message_create(user=ben, channel_id=channel.pk, body=HOSTILE, client_id="h1")
    chat_services.dm_send(sender=ben, recipient_id=ann.pk, body=f"dm {HOSTILE}", client_id="h2")
    goal = share_services.goal_create(user=ann, title=f"goal {NAME}", description=HOSTILE, unit="km", target=100)
    share_services.progress_record(user=ann, goal_id=goal.pk, value=5, note=f"note {NAME}")
    share_services.reflection_create(user=ann, text=f"reflection {HOSTILE}")
    share = share_services.share_create(user=ann, title=f"share {HOSTILE}", show_reflections=True)
    share_services.comment_create(token=share.token, user=ben, address="127.0.0.1", message=f"signed {NAME}")
    share_services.comment_create(token=share.token, user=None, address="127.0.0.2", message=f"anon {NAME}", name=IMG)
    notification_services.notification_create(
        recipient=ann, kind="system", title=f"title {NAME}", body=f"body {HOSTILE}"
    )
    return {"ann": ann, "ben": ben, "channel": channel, "share": share, "goal": goal}


def test_hostile_strings_render_as_text_on_every_page(servers, browser, hostile_world, tmp_path):
    ann, ben, channel, share = (hostile_world[key] for key in ("ann", "ben", "channel", "share"))
    server = servers({"MEDIA_ROOT": str(tmp_path)}, name="xss")
    context = signed_in(browser, ann)

    # Home: the bell's latest notifications (ben's name in the follow ones, the hostile title).
    home = visit(context, f"{server.url}/", '#bell[data-inbox="joined"]')
    home.click("#bell-button")
    shows(home, f"title {NAME}", HOSTILE)
    nothing_ran(home, "/")

    index = visit(context, f"{server.url}/chat/", "#connection-state")
    shows(index, NAME, HOSTILE)  # the channel list, the friend list (ben's name)
    nothing_ran(index, "/chat/")

    room = visit(context, f"{server.url}/chat/{channel.pk}/", '.chat[data-joined="true"]')
    shows(room, NAME, HOSTILE)
    expect(room.locator("#messages .msg-body").first).to_have_text(HOSTILE)
    # Live: ben's next hostile message arrives while the page is open.
    post_json(
        f"{server.url}/api/chat/channels/{channel.pk}/messages/", ben, {"body": f"live {HOSTILE}", "client_id": "h3"}
    )
    expect(room.locator("#messages .msg-body", has_text="live ")).to_have_text(f"live {HOSTILE}", timeout=WAIT_MS)
    nothing_ran(room, "/chat/<id>/")

    dm = visit(context, f"{server.url}/chat/dm/{ben.username}/", '.chat[data-joined="true"]')
    shows(dm, f"dm {HOSTILE}", HOSTILE)
    post_json(f"{server.url}/api/chat/dm/{ann.pk}/messages/", ben, {"body": f"live dm {HOSTILE}", "client_id": "h4"})
    shows(dm, f"live dm {HOSTILE}")
    nothing_ran(dm, "/chat/dm/<username>/")

    notifications = visit(context, f"{server.url}/notifications/", '#bell[data-inbox="joined"]')
    shows(notifications, f"title {NAME}", f"body {HOSTILE}", HOSTILE)
    nothing_ran(notifications, "/notifications/")

    dashboard = visit(context, f"{server.url}/shares/", "#connection-state")
    shows(dashboard, f"goal {NAME}", f"share {HOSTILE}", f"reflection {HOSTILE}", f"signed {NAME}", f"anon {NAME}", IMG)

    # An anonymous viewer, and a comment under a hostile name that reaches the owner live.
    viewer = visit(anonymous(browser), f"{server.url}/s/{share.token}/", '.share-view[data-state="live"]')
    shows(viewer, f"share {HOSTILE}", f"goal {NAME}", f"reflection {HOSTILE}", f"signed {NAME}", IMG)
    # Live progress: the updates list names the hostile goal (notes are stored, shown nowhere).
    post_json(f"{server.url}/api/goals/{hostile_world['goal'].pk}/progress/", ann, {"delta": 1, "note": HOSTILE})
    expect(viewer.locator("#update-list li").first).to_contain_text(f"goal {NAME}", timeout=WAIT_MS)
    viewer.fill("#comment-name", IMG)
    viewer.fill("#comment-message", f"live {NAME}")
    viewer.click("#comment-form button")
    shows(viewer, f"live {NAME}")
    shows(dashboard, f"live {NAME}")
    nothing_ran(viewer, "/s/<token>/ (anonymous)")
    nothing_ran(dashboard, "/shares/")

    owner_view = visit(context, f"{server.url}/s/{share.token}/", '.share-view[data-state="live"]')
    shows(owner_view, f"share {HOSTILE}", f"live {NAME}")
    nothing_ran(owner_view, "/s/<token>/ (owner)")

    # Uploads: a file picked under a hostile name, stored and shown by the progress list.
    uploads = visit(context, f"{server.url}/uploads/", '.uploads[data-ready="true"]')
    name = f"{IMG}.png"
    uploads.set_input_files("#upload-input", [{"name": name, "mimeType": "image/png", "buffer": png_bytes()}])
    uploads.click("#upload-start")
    row = uploads.locator(".upload-file").first
    expect(row).to_have_attribute("data-status", "completed", timeout=WAIT_MS)
    expect(row.locator(".upload-file-name")).to_have_text(name)  # the server's P names it as picked
    nothing_ran(uploads, "/uploads/")

    # The admin: every list and change page of the models holding the strings, as a superuser.
    root = User.objects.create_superuser(username="root", password="unused-pw-1", email="root@example.com")
    staff = signed_in(browser, root)
    pages = [
        ("accounts/user", ben.pk, HOSTILE),
        ("chat/channel", channel.pk, NAME),
        ("chat/message", Message.objects.filter(body=HOSTILE).get().pk, HOSTILE),
        ("chat/directmessage", DirectMessage.objects.filter(body=f"dm {HOSTILE}").get().pk, f"dm {HOSTILE}"),
        ("shares/goal", hostile_world["goal"].pk, f"goal {NAME}"),
        ("shares/reflection", Reflection.objects.get().pk, f"reflection {HOSTILE}"),
        ("shares/share", share.pk, f"share {HOSTILE}"),
        ("shares/sharecomment", ShareComment.objects.filter(name=IMG).first().pk, f"anon {NAME}"),
        ("notifications/notification", Notification.objects.get(title=f"title {NAME}").pk, f"title {NAME}"),
        ("uploads/uploadsession", UploadFile.objects.get().session_id, name),
        ("uploads/uploadfile", UploadFile.objects.get().pk, name),
    ]
    admin_page = staff.new_page()
    for model, pk, text in pages:
        for url in (f"/admin/{model}/", f"/admin/{model}/{pk}/change/"):
            response = admin_page.goto(f"{server.url}{url}")
            assert response is not None and response.status == 200, url
            if url.endswith("change/") or model != "uploads/uploadsession":  # its list shows no file names
                shows(admin_page, text)
            nothing_ran(admin_page, url)

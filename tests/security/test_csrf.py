"""CSRF on every session-authenticated write: each POST, PUT, PATCH and DELETE of every REST
endpoint and form page (from the URL resolver), the tus endpoints (the streaming PATCH
included) and the realtime HTTP transport, sent with ann's session cookie and no CSRF token,
is refused with 403 and changes no row. The same write with a JWT needs no token.

`test_every_write_route_is_tried` fails when a write route appears that WRITES does not list.
"""

import base64
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from chat import services as chat_services
from realtime.testing import token_for
from tests.security.conftest import World, snapshot
from uploads.tests.conftest import tus_request

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
TUS = {"Tus-Resumable": "1.0.0"}

Build = Callable[[World], Any]


def tus_metadata(world: World) -> str:
    values = {"session": str(world.upload.pk), "filename": "x.png", "filetype": "image/png"}
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def one(kwargs: Build = lambda w: {}, body: Build = lambda w: {}, headers: Build = lambda w: {}) -> dict[str, Build]:
    return {"kwargs": kwargs, "body": body, "headers": headers}


# (URL name, method): the path arguments, body and headers of a write ann may make; with a JWT
# it succeeds, so the refusal without a CSRF token is the CSRF check and nothing else.
WRITES: dict[tuple[str, str], dict[str, Build]] = {
    ("api-user-me", "patch"): one(body=lambda w: {"display_name": "Changed"}),
    ("api-user-follow", "post"): one(lambda w: {"user_id": w.ben.pk}),
    ("api-user-follow", "delete"): one(lambda w: {"user_id": w.cat.pk}),
    ("api-chat-channels", "post"): one(body=lambda w: {"name": "New channel"}),
    ("api-chat-channel", "patch"): one(lambda w: {"channel_id": w.general.pk}, lambda w: {"description": "Changed"}),
    ("api-chat-channel-join", "post"): one(lambda w: {"channel_id": w.cats_channel.pk}),
    ("api-chat-channel-leave", "post"): one(lambda w: {"channel_id": w.general.pk}),
    ("api-chat-members", "post"): one(lambda w: {"channel_id": w.general.pk}, lambda w: {"user_id": w.cat.pk}),
    ("api-chat-member", "delete"): one(lambda w: {"channel_id": w.general.pk, "user_id": w.ben.pk}),
    ("api-chat-messages", "post"): one(
        lambda w: {"channel_id": w.general.pk}, lambda w: {"body": "forged", "client_id": "f1"}
    ),
    ("api-chat-channel-read", "post"): one(lambda w: {"channel_id": w.general.pk}),
    ("api-chat-message", "patch"): one(lambda w: {"message_id": w.general_message.pk}, lambda w: {"body": "forged"}),
    ("api-chat-message", "delete"): one(lambda w: {"message_id": w.general_message.pk}),
    ("api-chat-dm-messages", "post"): one(
        lambda w: {"user_id": w.cat.pk}, lambda w: {"body": "forged", "client_id": "f2"}
    ),
    ("api-chat-dm-read", "post"): one(lambda w: {"user_id": w.cat.pk}),
    ("api-chat-dm-message", "patch"): one(lambda w: {"message_id": w.dm.pk}, lambda w: {"body": "forged"}),
    ("api-chat-dm-message", "delete"): one(lambda w: {"message_id": w.dm.pk}),
    ("api-shares-goals", "post"): one(body=lambda w: {"title": "Forged goal"}),
    ("api-shares-goal", "patch"): one(lambda w: {"goal_id": w.goal.pk}, lambda w: {"title": "Forged"}),
    ("api-shares-goal", "delete"): one(lambda w: {"goal_id": w.goal.pk}),
    ("api-shares-progress", "post"): one(lambda w: {"goal_id": w.goal.pk}, lambda w: {"value": 99}),
    ("api-shares-reflections", "post"): one(body=lambda w: {"text": "Forged"}),
    ("api-shares-reflection", "delete"): one(lambda w: {"reflection_id": w.reflection.pk}),
    ("api-shares", "post"): one(body=lambda w: {"title": "Forged share"}),
    ("api-share", "patch"): one(lambda w: {"share_id": w.share.pk}, lambda w: {"title": "Forged"}),
    ("api-share-end", "post"): one(lambda w: {"share_id": w.share.pk}),
    ("api-share-comment-hide", "post"): one(lambda w: {"share_id": w.share.pk, "comment_id": w.comment.pk}),
    ("api-share-comment-restore", "post"): one(lambda w: {"share_id": w.share.pk, "comment_id": w.hidden_comment.pk}),
    ("api-shared-comments", "post"): one(lambda w: {"token": w.share.token}, lambda w: {"message": "Forged"}),
    ("api-uploads-sessions", "post"): one(body=lambda w: {"category": "personal", "files": []}),
    ("api-uploads-cancel", "post"): one(lambda w: {"session_id": w.upload.pk}),
    ("api-uploads-tus", "post"): one(
        headers=lambda w: {**TUS, "Upload-Length": "10", "Upload-Metadata": tus_metadata(w)}
    ),
    ("api-uploads-tus-file", "delete"): one(lambda w: {"file_id": w.upload_file.pk}, headers=lambda w: TUS),
    ("api-notifications-read", "post"): one(body=lambda w: {"all": True}),
    ("api-notifications-preferences", "put"): one(body=lambda w: {"muted_kinds": ["follow"]}),
    ("api-notifications-send", "post"): one(body=lambda w: {"users": [w.ann.pk], "kind": "system", "title": "Forged"}),
    ("api-notification", "delete"): one(lambda w: {"notification_id": w.notification.pk}),
}

# Form pages: the form fields of a write ann may make (with the CSRF token it is accepted).
PAGES: dict[tuple[str, str], dict[str, Build]] = {
    ("notifications:preferences", "post"): one(body=lambda w: {"muted_kinds": ["follow"]}),
    ("logout", "post"): one(),
}
# The sign-in form is checked too, before anyone is signed in (login CSRF): ANONYMOUS_PAGES.
ANONYMOUS_PAGES: dict[tuple[str, str], dict[str, Build]] = {
    ("login", "post"): one(body=lambda w: {"username": "ann", "password": "unused"}),
    ("login", "put"): one(body=lambda w: {"username": "ann", "password": "unused"}),
}

# Writes no session authenticates: the credentials are in the body, the answer (tokens) is in
# the body too and sets no cookie, so a cross-site form gains nothing (DRF runs no session
# authentication on them: authentication_classes = []).
NO_SESSION = {
    ("api-register", "post"): "creates an account from the body; accounts/api/views.py RegisterApi",
    ("api-token", "post"): "signs in from the body, answers tokens, sets no cookie",
    ("api-token-refresh", "post"): "takes the refresh token from the body",
}


def write_routes() -> set[tuple[str, str]]:
    """(URL name, method) of every write a view implements, from the resolver (function views:
    the form pages, which are POST)."""

    def walk(patterns: list[Any], namespace: str = "", prefix: str = "") -> Any:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield namespace + (pattern.name or ""), prefix + str(pattern.pattern), pattern.callback

    found = set()
    for name, route, view in walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue  # Django's admin: its own CSRF, tested by Django
        view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
        if view_class is None:
            found.add((name, "get"))  # function views: which ones take POST is PAGES' to say
            continue
        found |= {(name, method) for method in WRITE_METHODS if hasattr(view_class, method)}
    return found


def test_every_write_route_is_tried():
    routes = write_routes()
    listed = set(WRITES) | set(NO_SESSION) | set(ANONYMOUS_PAGES) | {("logout", "post")}
    class_writes = {route for route in routes if route[1] in WRITE_METHODS}
    assert class_writes - listed == set(), "write routes the CSRF suite does not try"
    assert listed <= class_writes  # and none is gone


# Path arguments of the pages that take some (every page is POSTed to without a token below).
PAGE_ARGS: dict[str, Build] = {
    "chat:channel": lambda w: {"channel_id": w.general.pk},
    "chat:dm": lambda w: {"username": w.cat.username},
    "shares:view": lambda w: {"token": w.share.token},
}


def function_pages() -> list[str]:
    """URL names of the function views (pages and their form targets); one with path arguments
    that PAGE_ARGS does not give fails in page_url()."""
    routes = write_routes()
    return sorted(
        name for name, method in routes if method == "get" and not any(n == name and m != "get" for n, m in routes)
    )


def page_url(world: World, name: str) -> str:
    return reverse(name, kwargs=PAGE_ARGS[name](world) if name in PAGE_ARGS else None)


def test_every_page_refuses_a_cookie_post_without_the_token(csrf_world):
    """Whatever a page does with a POST (a form target, or 405), a cookie POST without the
    token stops at the CSRF check first."""
    pages = function_pages()
    assert {"home", "chat:index", "notifications:preferences", "uploads:index", "shares:dashboard"} <= set(pages)
    client = session_client(csrf_world.ann)
    before = snapshot()
    for name in pages:
        response = client.post(page_url(csrf_world, name), {"muted_kinds": ["follow"]})
        assert response.status_code == 403 and b"CSRF" in response.content, name
    assert snapshot() == before


@pytest.fixture
def csrf_world(world: World) -> World:
    world.ann.is_staff = True  # the notification trigger API is staff's
    world.ann.save(update_fields=["is_staff"])
    world.cats_channel = chat_services.channel_create(user=world.cat, name="Cat's")  # type: ignore[attr-defined]
    from shares import services as share_services

    hidden = share_services.comment_create(token=world.share.token, user=world.cat, address="127.0.0.1", message="x")
    share_services.comment_hide(user=world.ann, comment_id=hidden.pk)
    world.hidden_comment = hidden  # type: ignore[attr-defined]
    # Something for ann to mark read in General and from cat.
    chat_services.message_create(user=world.ben, channel_id=world.general.pk, body="unread", client_id="u1")
    chat_services.dm_send(sender=world.cat, recipient_id=world.ann.pk, body="unread", client_id="u2")
    return world


def session_client(user: Any = None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    client.get("/" if user is not None else reverse("login"))  # the CSRF cookie, as a browser has it
    assert settings.CSRF_COOKIE_NAME in client.cookies
    return client


def meta(headers: dict[str, str]) -> dict[str, str]:
    return {"HTTP_" + key.upper().replace("-", "_"): value for key, value in headers.items()}


@pytest.mark.parametrize("route", sorted(WRITES), ids=lambda route: f"{route[1]} {route[0]}")
def test_a_cookie_write_without_the_csrf_token_is_refused(csrf_world, route):
    spec = WRITES[route]
    name, method = route
    url = reverse(name, kwargs=spec["kwargs"](csrf_world))
    body, headers = spec["body"](csrf_world), meta(spec["headers"](csrf_world))
    before = snapshot()
    refused = getattr(session_client(csrf_world.ann), method)(url, body, content_type="application/json", **headers)
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "forbidden" and "CSRF" in refused.json()["detail"]
    assert snapshot() == before
    # The same write with a JWT (and no cookie) needs no token.
    jwt = APIClient()
    jwt.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(csrf_world.ann)}")
    accepted = getattr(jwt, method)(url, body, format="json", **headers)
    assert 200 <= accepted.status_code < 300, (accepted.status_code, accepted.content)
    assert snapshot() != before


@pytest.mark.parametrize("route", sorted(PAGES), ids=lambda route: f"{route[1]} {route[0]}")
def test_a_form_post_without_the_csrf_token_is_refused(csrf_world, route):
    spec = PAGES[route]
    url = reverse(route[0])
    client = session_client(csrf_world.ann)
    before = snapshot()
    refused = client.post(url, spec["body"](csrf_world))
    assert refused.status_code == 403
    assert snapshot() == before
    assert client.get("/api/users/me/").status_code == 200  # still signed in (logout refused too)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = client.post(url, {**spec["body"](csrf_world), "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert snapshot() != before or client.get("/api/users/me/").status_code in (401, 403)


@pytest.mark.parametrize("route", sorted(ANONYMOUS_PAGES), ids=lambda route: f"{route[1]} {route[0]}")
def test_the_sign_in_form_needs_the_csrf_token(csrf_world, route):
    client = session_client()
    refused = client.generic(
        route[1].upper(),
        reverse(route[0]),
        "username=ann&password=unused",
        content_type="application/x-www-form-urlencoded",
    )
    assert refused.status_code == 403
    assert client.get("/api/users/me/").status_code in (401, 403)  # not signed in


# -- writes answered before Django: the tus PATCH and the realtime HTTP transport -----------


def cookies_of(user: Any) -> tuple[str, str]:
    """A session cookie header of `user`, with the CSRF cookie, and that CSRF token."""
    client = session_client(user)
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}", csrf


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_tus_patch_with_the_session_cookie_needs_the_csrf_token(world, settings, tmp_path):
    """Async, so the requests and the hub's clean-up (fresh_hub) share one event loop."""
    settings.MEDIA_ROOT = tmp_path
    cookie, csrf = await database_sync_to_async(cookies_of)(world.ann)
    token = await database_sync_to_async(token_for)(world.ann)
    headers = {
        **TUS,
        "Cookie": cookie,
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": "0",
    }
    path = f"/api/uploads/tus/{world.upload_file.pk}"
    before = await database_sync_to_async(snapshot)()
    refused = await tus_request("PATCH", path, headers, [b"x" * 10])
    assert refused is not None and refused.status == 403 and b"CSRF" in refused.body
    assert await database_sync_to_async(snapshot)() == before and not list(tmp_path.rglob("*"))
    accepted = await tus_request("PATCH", path, {**headers, "X-CSRFToken": csrf}, [b"x" * 10])
    assert accepted is not None and accepted.status == 204 and accepted.headers["upload-offset"] == "10"
    jwt = {**headers, "Authorization": f"Bearer {token}", "Upload-Offset": "10"}
    del jwt["Cookie"]
    with_jwt = await tus_request("PATCH", path, jwt, [b"y" * 10])
    assert with_jwt is not None and with_jwt.status == 204


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_realtime_http_transport_needs_the_csrf_token_with_a_cookie(world):
    from realtime import transport_http

    cookie, csrf = await database_sync_to_async(cookies_of)(world.ann)
    token = await database_sync_to_async(token_for)(world.ann)
    base = {"Cookie": cookie, "Content-Type": "application/json"}
    for method, path in (
        ("POST", transport_http.SESSION_PATH),
        ("DELETE", transport_http.SESSION_PATH),
        ("POST", transport_http.SEND_PATH),
    ):
        refused = await tus_request(method, path, base, [b"[]"])
        assert refused is not None and refused.status == 403 and b"CSRF" in refused.body, (method, path, refused)
    # With the token (or a JWT) the CSRF check passes: ending a session that does not exist is
    # then the transport's own 404 (nothing is created, so nothing is left to clean up).
    jwt = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    try:
        for headers in ({**base, "X-CSRFToken": csrf}, jwt):
            passed = await tus_request("DELETE", transport_http.SESSION_PATH, headers, [b""])
            assert passed is not None and passed.status == 404 and b"No such transport session" in passed.body
    finally:
        await transport_http.stop_sessions()  # its Redis connections belong to this event loop

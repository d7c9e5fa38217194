"""IDOR sweep: every REST endpoint and page that takes an object id or token in its path, and
every topic, tried by ben with ann's ids. Each is refused (403/404; topics `not_found` or
`forbidden`), changes no row, and where an object's existence is not public anyway, answers
exactly as for an id that does not exist (so ids cannot be enumerated).

The route list comes from the URL resolver: a new id-taking route that CASES does not cover
fails `test_the_sweep_covers_every_id_taking_route`.
"""

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from realtime.testing import open_client, token_for
from tests.security.conftest import World, snapshot
from uploads.tests.conftest import tus_request

pytestmark = pytest.mark.django_db
# Tests that reach the database from the ASGI application's threads need committed rows.
committed_rows = pytest.mark.django_db(transaction=True)

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


@dataclass
class Case:
    """`name` (URL name) and `method` tried with ann's object (`theirs`) and, when `alike`,
    with one that does not exist (`missing`): both must answer the same status and body."""

    name: str
    method: str
    theirs: Callable[[World], dict[str, Any]]
    missing: Callable[[World], dict[str, Any]] | None = None
    body: Callable[[World], dict[str, Any]] = lambda w: {}
    headers: dict[str, str] = field(default_factory=dict)
    page: bool = False  # a page (session cookie) rather than a REST endpoint (JWT)

    def param(self) -> Any:
        return pytest.param(self, id=self.id)

    @property
    def id(self) -> str:
        return f"{self.method} {self.name}"


M = World.missing

# Joining a private channel one is not in answers 403 `forbidden`, an unknown id 404: PROTOCOL
# section 2 defines `forbidden` as "signed in, but not allowed (not a member ...)", and a client
# needs the difference to say "ask an admin to add you". Channel ids are not secrets (the
# channel list and invitations carry them); nothing of the channel shows or changes.
CASES = [
    # chat: ann's private channel (ben is not in it), its message, ann's DM to cat.
    Case("api-chat-channel", "get", lambda w: {"channel_id": w.secret.pk}, lambda w: {"channel_id": M}),
    Case(
        "api-chat-channel",
        "patch",
        lambda w: {"channel_id": w.secret.pk},
        lambda w: {"channel_id": M},
        body=lambda w: {"name": "pwned", "is_private": False},
    ),
    Case(
        "api-chat-channel-join",
        "post",
        lambda w: {"channel_id": w.secret.pk},
    ),
    Case("api-chat-channel-leave", "post", lambda w: {"channel_id": w.secret.pk}, lambda w: {"channel_id": M}),
    Case("api-chat-members", "get", lambda w: {"channel_id": w.secret.pk}, lambda w: {"channel_id": M}),
    Case(
        "api-chat-members",
        "post",
        lambda w: {"channel_id": w.secret.pk},
        lambda w: {"channel_id": M},
        body=lambda w: {"user_id": w.ben.pk, "role": "admin"},
    ),
    Case(
        "api-chat-member",
        "delete",
        lambda w: {"channel_id": w.secret.pk, "user_id": w.cat.pk},
        lambda w: {"channel_id": M, "user_id": w.cat.pk},
    ),
    # ben is in General, but ann is its admin: he cannot remove her.
    Case("api-chat-member", "delete", lambda w: {"channel_id": w.general.pk, "user_id": w.ann.pk}),
    Case("api-chat-messages", "get", lambda w: {"channel_id": w.secret.pk}, lambda w: {"channel_id": M}),
    Case(
        "api-chat-messages",
        "post",
        lambda w: {"channel_id": w.secret.pk},
        lambda w: {"channel_id": M},
        body=lambda w: {"body": "intruder", "client_id": "x1"},
    ),
    Case(
        "api-chat-channel-read",
        "post",
        lambda w: {"channel_id": w.secret.pk},
        lambda w: {"channel_id": M},
        body=lambda w: {"seq": 1},
    ),
    Case(
        "api-chat-message",
        "patch",
        lambda w: {"message_id": w.secret_message.pk},
        lambda w: {"message_id": M},
        body=lambda w: {"body": "pwned"},
    ),
    Case("api-chat-message", "delete", lambda w: {"message_id": w.secret_message.pk}, lambda w: {"message_id": M}),
    # ann's message in a channel ben reads: its existence is no secret, but it is not his.
    Case("api-chat-message", "patch", lambda w: {"message_id": w.general_message.pk}, body=lambda w: {"body": "pwned"}),
    Case("api-chat-message", "delete", lambda w: {"message_id": w.general_message.pk}),
    # Direct messages take a user id; users are public (GET /api/users/<id>/), the conversation is not.
    Case(
        "api-chat-dm-messages",
        "post",
        lambda w: {"user_id": w.cat.pk},
        body=lambda w: {"body": "hi stranger", "client_id": "x2"},
    ),
    Case(
        "api-chat-dm-message",
        "patch",
        lambda w: {"message_id": w.dm.pk},
        lambda w: {"message_id": M},
        body=lambda w: {"body": "pwned"},
    ),
    Case("api-chat-dm-message", "delete", lambda w: {"message_id": w.dm.pk}, lambda w: {"message_id": M}),
    # shares: ann's goal, reflection, share and the comment on it.
    Case("api-shares-goal", "get", lambda w: {"goal_id": w.goal.pk}, lambda w: {"goal_id": M}),
    Case(
        "api-shares-goal",
        "patch",
        lambda w: {"goal_id": w.goal.pk},
        lambda w: {"goal_id": M},
        body=lambda w: {"title": "pwned", "status": "done"},
    ),
    Case("api-shares-goal", "delete", lambda w: {"goal_id": w.goal.pk}, lambda w: {"goal_id": M}),
    Case("api-shares-progress", "get", lambda w: {"goal_id": w.goal.pk}, lambda w: {"goal_id": M}),
    Case(
        "api-shares-progress",
        "post",
        lambda w: {"goal_id": w.goal.pk},
        lambda w: {"goal_id": M},
        body=lambda w: {"value": 100},
    ),
    Case(
        "api-shares-reflection", "delete", lambda w: {"reflection_id": w.reflection.pk}, lambda w: {"reflection_id": M}
    ),
    Case("api-share", "get", lambda w: {"share_id": w.share.pk}, lambda w: {"share_id": M}),
    Case(
        "api-share",
        "patch",
        lambda w: {"share_id": w.share.pk},
        lambda w: {"share_id": M},
        body=lambda w: {"title": "pwned", "allow_comments": False},
    ),
    Case("api-share-end", "post", lambda w: {"share_id": w.share.pk}, lambda w: {"share_id": M}),
    Case("api-share-comments", "get", lambda w: {"share_id": w.share.pk}, lambda w: {"share_id": M}),
    Case(
        "api-share-comment-hide",
        "post",
        lambda w: {"share_id": w.share.pk, "comment_id": w.comment.pk},
        lambda w: {"share_id": M, "comment_id": M},
    ),
    Case(
        "api-share-comment-restore",
        "post",
        lambda w: {"share_id": w.share.pk, "comment_id": w.comment.pk},
        lambda w: {"share_id": M, "comment_id": M},
    ),
    # Viewer endpoints: holding a live token is the access; an ended share's token is as dead as none.
    Case("api-shared", "get", lambda w: {"token": w.ended.token}, lambda w: {"token": w.missing_token}),
    Case("api-shared-comments", "get", lambda w: {"token": w.ended.token}, lambda w: {"token": w.missing_token}),
    Case(
        "api-shared-comments",
        "post",
        lambda w: {"token": w.ended.token},
        lambda w: {"token": w.missing_token},
        body=lambda w: {"message": "late"},
    ),
    # A password share without its password.
    Case("api-shared", "get", lambda w: {"token": w.password_share.token}),
    Case(
        "api-shared-comments", "post", lambda w: {"token": w.password_share.token}, body=lambda w: {"message": "let me"}
    ),
    # uploads: ann's session and its file.
    Case("api-uploads-session", "get", lambda w: {"session_id": w.upload.pk}, lambda w: {"session_id": M}),
    Case("api-uploads-progress", "get", lambda w: {"session_id": w.upload.pk}, lambda w: {"session_id": M}),
    Case("api-uploads-cancel", "post", lambda w: {"session_id": w.upload.pk}, lambda w: {"session_id": M}),
    Case("api-uploads-file-content", "get", lambda w: {"file_id": w.upload_file.pk}, lambda w: {"file_id": M}),
    Case(
        "api-uploads-tus-file", "head", lambda w: {"file_id": w.upload_file.pk}, lambda w: {"file_id": M}, headers=TUS
    ),
    Case(
        "api-uploads-tus-file",
        "delete",
        lambda w: {"file_id": w.upload_file.pk},
        lambda w: {"file_id": M},
        headers=TUS,
    ),
    # notifications: ann's.
    Case(
        "api-notification", "delete", lambda w: {"notification_id": w.notification.pk}, lambda w: {"notification_id": M}
    ),
    # Pages.
    Case("chat:channel", "get", lambda w: {"channel_id": w.secret.pk}, lambda w: {"channel_id": M}, page=True),
    Case("shares:view", "get", lambda w: {"token": w.ended.token}, lambda w: {"token": w.missing_token}, page=True),
]

# Id-taking routes whose objects are everyone's by design, each with the reason and the
# test that shows it.
PUBLIC = {
    ("api-user-detail", "get"): "profiles are public (L has no e-mail): accounts/tests/test_api.py",
    ("api-user-follow", "post"): "follows whoever the id names, as the signed-in user only",
    ("api-user-follow", "delete"): "removes the signed-in user's own follow only",
}


def id_taking_routes() -> set[tuple[str, str]]:
    """(URL name, method) for every route with a path parameter, from the resolver; the
    methods a class-based view implements (GET for function views)."""

    def walk(patterns: list[Any], namespace: str = "", prefix: str = "") -> Any:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield namespace + (pattern.name or ""), prefix + str(pattern.pattern), pattern.callback

    found = set()
    for name, route, view in walk(get_resolver().url_patterns):
        if route.startswith("admin/") or "<" not in route:
            continue
        view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
        if view_class is None:
            found.add((name, "get"))
            continue
        found |= {
            (name, method)
            for method in ("get", "post", "put", "patch", "delete", "head")
            if hasattr(view_class, method)
        }
    return found


def test_the_sweep_covers_every_id_taking_route():
    covered = {(case.name, case.method) for case in CASES + OWN} | set(PUBLIC)
    routes = id_taking_routes()
    assert routes - covered == set(), "id-taking routes the IDOR sweep does not try"
    assert {(case.name, case.method) for case in CASES + OWN} <= routes  # and no case names a route that is gone
    assert ("api-uploads-tus-file", "head") in routes and ("chat:dm", "get") in routes  # the walk sees both kinds


def request(world: World, case: Case, kwargs: dict[str, Any]) -> Any:
    url = reverse(case.name, kwargs=kwargs)
    if case.page:
        from django.test import Client

        client = Client()
        client.force_login(world.ben)
        return client.generic(case.method.upper(), url)
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(world.ben)}")
    method = getattr(client, case.method)
    if case.method in ("get", "head"):
        return method(url, **case.headers)
    return method(url, case.body(world), format="json", **case.headers)


def answer(response: Any) -> Any:
    """What the client learns: the body (JSON, or the page's text without its per-request CSRF
    token) besides the status."""
    if response.get("Content-Type", "").startswith("application/json") and response.content:
        return response.json()
    return CSRF_TOKEN.sub("<csrf>", response.content.decode())


CSRF_TOKEN = re.compile(r"[A-Za-z0-9]{64}")


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_another_users_object_is_refused_and_nothing_changes(world, case):
    before = snapshot()
    theirs = request(world, case, case.theirs(world))
    assert theirs.status_code in (403, 404), (theirs.status_code, answer(theirs))
    assert snapshot() == before
    if case.missing is None:
        return
    missing = request(world, case, case.missing(world))
    assert snapshot() == before
    # Exists but not yours == does not exist: same status, same body (not only the same shape).
    assert (missing.status_code, answer(missing)) == (theirs.status_code, answer(theirs))
    if not case.page and case.method != "head":
        assert set(answer(theirs)) >= {"code", "detail"}


# Routes whose id names a user (profiles are public): ben's own conversation with cat, who is
# not his friend. Allowed, and nothing of ann's conversation with cat shows or changes.
OWN = [
    Case("api-chat-dm-messages", "get", lambda w: {"user_id": w.cat.pk}),
    Case("api-chat-dm-read", "post", lambda w: {"user_id": w.cat.pk}, body=lambda w: {"up_to": w.dm.pk}),
    Case("chat:dm", "get", lambda w: {"username": w.cat.username}, page=True),
]


@pytest.mark.parametrize("case", [case.param() for case in OWN])
def test_ones_own_view_of_a_user_shows_nothing_of_others(world, case):
    before = snapshot()
    response = request(world, case, case.theirs(world))
    assert response.status_code == 200
    assert world.dm.body not in str(answer(response))
    if case.name == "api-chat-dm-messages":
        assert response.json()["results"] == []
    if case.name == "api-chat-dm-read":
        assert response.json()["marked"] == 0
    assert snapshot() == before


def test_a_tus_upload_into_another_users_session_is_refused_alike(world):
    """POST /api/uploads/tus/ names its session in Upload-Metadata, not in the path."""
    from rest_framework.test import APIClient

    def create(session_id: int) -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(world.ben)}")
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in {"session": str(session_id), "filename": "x.png", "filetype": "image/png"}.items()
        )
        return client.post("/api/uploads/tus/", HTTP_UPLOAD_LENGTH="10", HTTP_UPLOAD_METADATA=metadata, **TUS)

    before = snapshot()
    theirs, missing = create(world.upload.pk), create(World.missing)
    assert theirs.status_code == 404
    assert (missing.status_code, missing.json()) == (theirs.status_code, theirs.json())
    assert snapshot() == before


@committed_rows
@pytest.mark.asyncio
async def test_a_tus_patch_into_another_users_file_is_refused_alike(world, settings, tmp_path):
    from channels.db import database_sync_to_async

    settings.MEDIA_ROOT = tmp_path
    token = await database_sync_to_async(token_for)(world.ben)

    async def patch(file_id: int) -> Any:
        headers = {
            "Tus-Resumable": "1.0.0",
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
        }
        return await tus_request("PATCH", f"/api/uploads/tus/{file_id}", headers, [b"x" * 10])

    before = await database_sync_to_async(snapshot)()
    theirs, missing = await patch(world.upload_file.pk), await patch(World.missing)
    assert theirs.status == 404
    assert (missing.status, missing.body) == (theirs.status, theirs.body)
    assert await database_sync_to_async(snapshot)() == before
    assert not list(tmp_path.rglob("*"))  # not a byte stored


def test_reading_another_users_notifications_as_read_changes_nothing(world, api_client_as):
    before = snapshot()
    response = api_client_as(world.ben).post(
        "/api/notifications/read/", {"ids": [world.notification.pk]}, format="json"
    )
    assert response.status_code == 200 and response.json()["ids"] == []
    assert snapshot() == before


# -- topics -----------------------------------------------------------------------------


async def ben_client(world: World) -> Any:
    from channels.db import database_sync_to_async

    token = await database_sync_to_async(token_for)(world.ben)
    client = await open_client(f"/ws/?token={token}")
    assert client.hello["user"]["username"] == "ben"
    return client


def error_of(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"] is False, reply
    error: dict[str, Any] = reply["error"]
    return error


@committed_rows
@pytest.mark.asyncio
async def test_topics_of_another_user_are_refused_alike(world):
    from channels.db import database_sync_to_async

    before = await database_sync_to_async(snapshot)()
    client = await ben_client(world)
    # upload:<id>: the owner's only; someone else's session is just not there.
    theirs = error_of(await client.join(f"upload:{world.upload.pk}"))
    assert theirs == error_of(await client.join(f"upload:{World.missing}"))
    assert theirs["code"] == "not_found"
    # share:<token>: an ended share is as gone as a token never issued.
    theirs = error_of(await client.join(f"share:{world.ended.token}"))
    assert theirs == error_of(await client.join(f"share:{World.missing_token}"))
    assert theirs["code"] == "not_found"
    # A password share without (or with a wrong) password.
    assert error_of(await client.join(f"share:{world.password_share.token}"))["code"] == "forbidden"
    assert error_of(await client.join(f"share:{world.password_share.token}", password="guess"))["code"] == "forbidden"
    # chat:<id>: the protocol (docs/protocol.md 4.1, section 2's order) answers `forbidden` for a
    # private channel one is not in and `not_found` for none; the same error object otherwise.
    theirs = error_of(await client.join(f"chat:{world.secret.pk}"))
    missing = error_of(await client.join(f"chat:{World.missing}"))
    assert (theirs["code"], missing["code"]) == ("forbidden", "not_found")
    assert set(theirs) == set(missing) == {"code", "message"}
    # inbox: only one's own; there is no way to name another user's.
    assert error_of(await client.join(f"inbox:{world.ann.pk}"))["code"] == "bad_request"
    inbox = await client.join("inbox")
    assert inbox["ok"] is True
    assert "For ann" not in str(inbox) and "just us" not in str(inbox)  # ann's notification, ann's DM
    await client.disconnect()
    assert await database_sync_to_async(snapshot)() == before


@committed_rows
@pytest.mark.asyncio
async def test_sends_naming_another_users_objects_change_nothing(world):
    from channels.db import database_sync_to_async

    before = await database_sync_to_async(snapshot)()
    client = await ben_client(world)
    assert (await client.join(f"chat:{world.general.pk}"))["ok"] is True
    # ann's message in General (visible, not his), then one in her private channel (not visible) and none.
    for event in ("message.update", "message.delete"):
        payload = {"id": world.general_message.pk, **({"body": "pwned"} if event == "message.update" else {})}
        assert error_of(await client.send_event(f"chat:{world.general.pk}", event, **payload))["code"] == "forbidden"
        hidden = error_of(
            await client.send_event(f"chat:{world.general.pk}", event, **{**payload, "id": world.secret_message.pk})
        )
        missing = error_of(
            await client.send_event(f"chat:{world.general.pk}", event, **{**payload, "id": World.missing})
        )
        assert hidden == missing and hidden["code"] == "not_found"
    assert (await client.join("inbox"))["ok"] is True
    for event, payload in (("dm.update", {"body": "pwned"}), ("dm.delete", {})):
        theirs = error_of(await client.send_event("inbox", event, id=world.dm.pk, **payload))
        assert theirs == error_of(await client.send_event("inbox", event, id=World.missing, **payload))
        assert theirs["code"] == "not_found"
    assert (
        error_of(await client.send_event("inbox", "dm.send", to=world.cat.pk, body="hi", client_id="c1"))["code"]
        == "forbidden"
    )
    reply = await client.send_event("inbox", "notifications.read", ids=[world.notification.pk])
    assert reply["ok"] is True and reply["payload"]["ids"] == []
    # ann's share, joined as a viewer: the owner's events are refused.
    assert (await client.join(f"share:{world.share.token}"))["ok"] is True
    topic = f"share:{world.share.token}"
    for event, payload in (
        ("comment.hide", {"id": world.comment.pk}),
        ("viewer.kick", {"viewer": "anyone"}),
        ("progress.publish", {"type": "progress", "data": {"goal": world.goal.pk, "value": 100}}),
        ("progress.publish", {"type": "goal", "data": {"goal": world.goal.pk, "title": "pwned"}}),
        ("progress.publish", {"type": "reflection", "data": {"text": "pwned"}}),
    ):
        assert error_of(await client.send_event(topic, event, **payload))["code"] == "forbidden", event
    await client.disconnect()
    after = await database_sync_to_async(snapshot)()
    # Joining General and the share as a viewer is allowed and leaves no row; nothing of ann's changed.
    assert after == before


@committed_rows
@pytest.mark.asyncio
async def test_another_users_http_transport_session_is_refused_alike(world):
    """The realtime HTTP transport names its session in the query (`?session=`): ben holding
    ann's session id gets what an unknown id gets, on every endpoint that takes one."""
    from channels.db import database_sync_to_async

    from realtime import transport_http
    from realtime.testing_http import asgi_request

    def bearer(token: str) -> list[tuple[bytes, bytes]]:
        return [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]

    ann = bearer(await database_sync_to_async(token_for)(world.ann))
    ben = bearer(await database_sync_to_async(token_for)(world.ben))
    try:
        created = await asgi_request("POST", transport_http.SESSION_PATH, body=b"{}", headers=ann)
        assert created.status == 201, created.body
        session = created.json()["session"]
        missing = "x" * len(session)
        for method, path, body in (
            ("GET", transport_http.POLL_PATH, b""),
            ("GET", transport_http.EVENTS_PATH, b""),
            ("POST", transport_http.SEND_PATH, b'[{"op": "ping", "ref": "1"}]'),
            ("DELETE", transport_http.SESSION_PATH, b""),
        ):
            theirs = await asgi_request(method, f"{path}?session={session}", body=body, headers=ben)
            unknown = await asgi_request(method, f"{path}?session={missing}", body=body, headers=ben)
            assert theirs.status == 404, (method, path, theirs.body)
            assert (theirs.status, theirs.json()) == (unknown.status, unknown.json()), (method, path)
        # Still ann's: she ends it herself.
        ended = await asgi_request("DELETE", f"{transport_http.SESSION_PATH}?session={session}", headers=ann)
        assert ended.status == 204
    finally:
        await transport_http.stop_sessions()


# Every topic and send event, and how the two tests above try it with ann's ids; a new topic
# prefix or send event fails test_the_sweep_covers_every_topic_and_send_event until listed here.
TOPICS = {"chat", "share", "upload", "inbox"}
SEND_EVENTS = {
    "message.update": "ann's message: visible (forbidden), hidden and missing (not_found alike)",
    "message.delete": "as message.update",
    "dm.update": "ann's DM to cat: not_found alike",
    "dm.delete": "as dm.update",
    "dm.send": "to cat, not ben's friend: forbidden, nothing stored",
    "notifications.read": "ann's notification id: ids [] and nothing changed",
    "comment.hide": "on ann's share as a viewer: forbidden",
    "viewer.kick": "as comment.hide",
    "progress.publish": "progress, goal and reflection on ann's goal: forbidden",
}
# Sends that name no object but the joined topic (its join is what the topic test refuses).
NO_OBJECT_ID = {
    "message.create": "posts to the joined channel",
    "read": "ben's own read mark in the joined channel",
    "typing": "ephemeral, the joined channel",
    "comment.create": "comments on the joined share",
    "dm.read": "ben's own read marks, `with` a user (users are public; test_ones_own_view... over REST)",
    "dm.typing": "ephemeral, to a user id; friends only",
}


def test_the_sweep_covers_every_topic_and_send_event():
    from realtime.api import InboxPart, TopicHandler

    def subclasses(cls: type) -> list[type]:
        return [sub for direct in cls.__subclasses__() for sub in (direct, *subclasses(direct))]

    def project(cls: type) -> bool:  # not a test topic (realtime/tests, tests/e2e)
        return not (cls.__module__.startswith("tests.") or ".tests." in cls.__module__)

    handlers = [handler for handler in subclasses(TopicHandler) if project(handler)]
    assert {handler.prefix for handler in handlers} == TOPICS
    events = {
        name
        for cls in handlers + [p for p in subclasses(InboxPart) if project(p)]
        for name in getattr(cls, "events", {})
    }
    assert events == set(SEND_EVENTS) | set(NO_OBJECT_ID)

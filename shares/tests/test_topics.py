"""`share:<token>` over the real ASGI stack (WebsocketCommunicator through the realtime core)."""

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.tests.factories import UserFactory
from realtime.testing import Client, open_client, token_for
from shares import services
from shares.models import Share
from shares.services.shares import viewer_id_read
from shares.tests.factories import GoalFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def run(function: Any, *args: Any, **kwargs: Any) -> Any:
    return database_sync_to_async(function)(*args, **kwargs)


def make_world() -> SimpleNamespace:
    ann = UserFactory(username="ann", display_name="Ann")
    ben = UserFactory(username="ben", display_name="Ben")
    run_goal = GoalFactory(owner=ann, title="Run 100 km", target=100)
    read_goal = GoalFactory(owner=ann, title="Read 12 books", unit="books", target=12)
    public = services.share_create(user=ann, title="My year", show_reflections=True)
    running = services.share_create(user=ann, title="Running", goals=[run_goal.pk])
    secret = services.share_create(user=ann, title="Secret", kind=Share.Kind.PASSWORD, password="open-sesame")
    return SimpleNamespace(
        ann=ann, ben=ben, run_goal=run_goal, read_goal=read_goal, public=public, running=running, secret=secret
    )


@pytest.fixture
def world():
    return run(make_world)


def topic(share: Share) -> str:
    return f"share:{share.token}"


async def viewer(share: Share, *, user: Any = None, address: str = "10.0.0.1", **params: Any) -> tuple[Client, dict]:
    client = await open_client(f"/ws/?token={token_for(user)}" if user else "/ws/", client_address=address)
    reply = await client.join(topic(share), **params)
    assert reply["ok"], reply
    return client, reply["payload"]


async def owner(w: SimpleNamespace, share: Share) -> tuple[Client, dict]:
    return await viewer(share, user=w.ann, address="10.0.0.99")


async def send(client: Client, share: Share, event: str, **payload: Any) -> dict[str, Any]:
    return await client.send_event(topic(share), event, **payload)


async def stream_events(client: Client) -> list[dict[str, Any]]:
    """Every event but the room summary, until the connection is quiet."""
    return [f for f in await client.drain() if f.get("op") == "event" and f["event"] != "room.updated"]


async def close(*clients: Client) -> None:
    for client in clients:
        await client.disconnect()


# -- join --------------------------------------------------------------------------------


async def test_join_replies_with_the_share_the_scope_allows_and_the_room(world):
    w = await world
    await run(services.progress_record, user=w.ann, goal_id=w.run_goal.pk, delta=5, note="first run")
    await run(services.reflection_create, user=w.ann, text="Good start")
    await run(services.comment_create, token=w.public.token, user=w.ben, address="1", message="Go Ann")

    client, reply = await viewer(w.public)

    assert reply["role"] == "viewer"
    share = reply["share"]
    assert share["title"] == "My year" and share["owner"] == {"id": w.ann.pk, "username": "ann", "display_name": "Ann"}
    assert [g["title"] for g in share["goals"]] == ["Run 100 km", "Read 12 books"]
    assert share["goals"][0]["current"] == 5 and share["goals"][0]["target"] == 100
    assert [p["note"] for p in share["progress"]] == ["first run"]
    assert [r["text"] for r in share["reflections"]] == ["Good start"]
    assert [(c["name"], c["message"], c["is_owner"]) for c in reply["comments"]] == [("Ben", "Go Ann", False)]
    assert reply["room"]["viewers"] == 1 and reply["room"]["owner_online"] is False
    [me] = reply["room"]["online"]
    assert me["name"] == "Anonymous" and me["role"] == "viewer" and isinstance(me["id"], str)
    assert (reply["missed"], reply["reset"]) == ([], False) and reply["seq"] >= 3

    running, running_reply = await viewer(w.running, address="10.0.0.2")
    assert [g["title"] for g in running_reply["share"]["goals"]] == ["Run 100 km"]
    assert "reflections" not in running_reply["share"]
    await close(client, running)


async def test_owner_joins_without_password_as_owner_and_viewers_see_them_online(world):
    w = await world
    watcher, _ = await viewer(w.secret, password="open-sesame")
    ann, reply = await owner(w, w.secret)
    assert reply["role"] == "owner"
    assert reply["room"]["viewers"] == 1 and reply["room"]["owner_online"] is True
    assert reply["room"]["online"][0]["name"] == "Ann" and reply["room"]["online"][0]["role"] == "owner"
    room = (await watcher.next_event("room.updated"))["payload"]
    assert room["owner_online"] is True and room["viewers"] == 1

    await ann.disconnect()
    room = (await watcher.next_event("room.updated"))["payload"]
    assert room["owner_online"] is False and [m["role"] for m in room["online"]] == ["viewer"]
    await close(watcher)


async def test_join_refusals_in_protocol_order(world):
    w = await world
    client = await open_client(client_address="10.0.0.5")
    assert (await client.join("share:unknown-token-1234567"))["error"]["code"] == "not_found"
    assert (await client.join("share:x"))["error"]["code"] == "not_found"
    assert (await client.join(topic(w.secret)))["error"]["code"] == "forbidden"
    assert (await client.join(topic(w.secret), password="wrong"))["error"]["code"] == "forbidden"
    assert (await client.join(topic(w.secret), password=12345))["error"]["code"] == "forbidden"
    assert (await client.join(topic(w.public), since="x"))["error"]["code"] == "invalid"

    await run(services.share_end, user=w.ann, share_id=w.running.pk)
    assert (await client.join(topic(w.running)))["error"]["code"] == "not_found"
    expired = await run(services.share_create, user=w.ann, title="Soon", expires_at=timezone.now() + timedelta(hours=1))
    await run(lambda: Share.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1)))
    assert (await client.join(topic(expired)))["error"]["code"] == "not_found"
    await close(client)


async def test_five_wrong_passwords_from_an_address_are_rate_limited_over_topic_and_rest(world, api_client):
    w = await world
    client = await open_client(client_address="10.9.9.9")
    for _ in range(3):
        assert (await client.join(topic(w.secret), password="wrong"))["error"]["code"] == "forbidden"
    # REST counts against the same window (the test client's address is 127.0.0.1: use it for both).
    rest_client = await open_client(client_address="127.0.0.1")
    for _ in range(5):
        assert (await rest_client.join(topic(w.secret), password="nope"))["error"]["code"] == "forbidden"
    response = await run(lambda: api_client.get(f"/api/s/{w.secret.token}/", HTTP_X_SHARE_PASSWORD="open-sesame"))
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    refused = await rest_client.join(topic(w.secret), password="open-sesame")
    assert refused["error"]["code"] == "rate_limited" and refused["error"]["fields"]["retry_after"] > 590
    # 10.9.9.9 made 3 mistakes only: the right password still works there.
    assert (await client.join(topic(w.secret), password="open-sesame"))["ok"]
    await close(client, rest_client)


# -- progress ----------------------------------------------------------------------------


async def test_owner_publishes_progress_and_viewers_get_it_live(world):
    w = await world
    ann, _ = await owner(w, w.public)
    watcher, _ = await viewer(w.public)

    reply = await send(
        ann, w.public, "progress.publish", type="progress", data={"goal": w.run_goal.pk, "delta": 2.5, "note": "easy"}
    )
    assert reply["ok"] and reply["payload"]["goal"]["current"] == 2.5
    event = await watcher.next_event("progress.updated")
    assert event["payload"]["type"] == "progress" and event["payload"]["entry"]["note"] == "easy"
    assert event["payload"]["goal"] == reply["payload"]["goal"] and isinstance(event["seq"], int)

    reply = await send(ann, w.public, "progress.publish", type="reflection", data={"text": "Windy"})
    assert (await watcher.next_event("progress.updated"))["payload"]["reflection"]["text"] == "Windy"

    reply = await send(
        ann,
        w.public,
        "progress.publish",
        type="goal",
        data={"goal": w.run_goal.pk, "title": "Run 150 km", "target": 150},
    )
    goal = (await watcher.next_event("progress.updated"))["payload"]
    assert goal["type"] == "goal" and goal["goal"]["title"] == "Run 150 km" and goal["goal"]["target"] == 150
    await close(ann, watcher)


async def test_progress_publish_refusals(world):
    w = await world
    ann, _ = await owner(w, w.public)
    watcher, _ = await viewer(w.public)
    assert (
        await send(watcher, w.public, "progress.publish", type="progress", data={"goal": w.run_goal.pk, "delta": 1})
    )["error"]["code"] == "forbidden"
    assert (await send(watcher, w.public, "progress.publish", type="nonsense"))["error"]["code"] == "forbidden"
    invalid = await send(ann, w.public, "progress.publish", type="progress", data={"goal": w.run_goal.pk, "delta": "1"})
    assert invalid["error"]["code"] == "invalid" and "delta" in invalid["error"]["fields"]
    assert (await send(ann, w.public, "progress.publish", type="walk", data={}))["error"]["code"] == "invalid"
    other = await run(GoalFactory, owner=w.ben)
    missing = await send(ann, w.public, "progress.publish", type="progress", data={"goal": other.pk, "delta": 1})
    assert missing["error"]["code"] == "not_found"
    assert (await send(watcher, w.public, "comment.hide", id=1))["error"]["code"] == "forbidden"
    assert (await send(watcher, w.public, "viewer.kick", viewer="x"))["error"]["code"] == "forbidden"
    assert await stream_events(watcher) == []
    await close(ann, watcher)


async def test_out_of_scope_writes_reach_nobody_live_or_by_resume(world, api_client_as):
    w = await world
    watcher, reply = await viewer(w.running)  # the running goal only, no reflections
    since = reply["seq"]
    rest = api_client_as(w.ann)
    assert (
        await run(
            rest.post, f"/api/goals/{w.read_goal.pk}/progress/", {"delta": 3, "note": "book notes"}, format="json"
        )
    ).status_code == 201
    assert (await run(rest.post, "/api/reflections/", {"text": "secret diary"}, format="json")).status_code == 201
    assert (await run(rest.post, "/api/goals/", {"title": "Hidden goal"}, format="json")).status_code == 201
    assert await stream_events(watcher) == []
    await watcher.disconnect()

    again, resumed = await viewer(w.running, since=since)
    assert resumed["missed"] == [] and resumed["reset"] is False
    text = str(resumed)
    assert "book notes" not in text and "secret diary" not in text and "Hidden goal" not in text
    view = (await run(api_client_as(w.ben).get, f"/api/s/{w.running.token}/")).json()
    assert [g["title"] for g in view["goals"]] == ["Run 100 km"] and "reflections" not in view
    await close(again)


async def test_a_viewer_resuming_gets_missed_progress_and_comments_in_order(world):
    w = await world
    watcher, reply = await viewer(w.public)
    since = reply["seq"]
    await watcher.disconnect()

    ann, _ = await owner(w, w.public)
    await send(ann, w.public, "progress.publish", type="progress", data={"goal": w.run_goal.pk, "value": 10})
    await send(ann, w.public, "comment.create", message="Back soon")
    await send(ann, w.public, "progress.publish", type="progress", data={"goal": w.run_goal.pk, "value": 20})

    again, resumed = await viewer(w.public, since=since)
    missed = resumed["missed"]
    assert [(m["event"], m["seq"]) for m in missed] == [
        ("progress.updated", since + 1),
        ("comment.created", since + 2),
        ("progress.updated", since + 3),
    ]
    assert missed[0]["payload"]["goal"]["current"] == 10 and missed[2]["payload"]["goal"]["current"] == 20
    assert missed[1]["payload"]["comment"]["message"] == "Back soon" and missed[1]["payload"]["comment"]["is_owner"]
    await close(ann, again)


# -- comments ----------------------------------------------------------------------------


async def test_comments_live_hide_and_redaction_for_resuming_viewers(world):
    w = await world
    ann, _ = await owner(w, w.public)
    watcher, reply = await viewer(w.public)
    since = reply["seq"]
    created = await send(watcher, w.public, "comment.create", message="You can do it", name="Coach")
    assert created["ok"] and created["payload"]["comment"]["name"] == "Coach"
    event = await ann.next_event("comment.created")
    comment_id = event["payload"]["comment"]["id"]
    assert event["payload"]["comment"]["message"] == "You can do it"

    late, _ = await viewer(w.public, address="10.0.0.7")
    assert (await send(ann, w.public, "comment.hide", id=comment_id))["ok"]
    assert (await watcher.next_event("comment.hidden"))["payload"] == {"id": comment_id}
    await watcher.disconnect()

    again, resumed = await viewer(w.public, since=since)
    assert "You can do it" not in str(resumed)
    assert [m["event"] for m in resumed["missed"]] == ["comment.created", "comment.hidden"]
    assert resumed["missed"][0]["payload"]["comment"]["hidden"] is True
    assert resumed["comments"] == []
    assert (await send(ann, w.public, "comment.hide", id=999999))["error"]["code"] == "not_found"
    await close(ann, late, again)


async def test_comment_refusals_over_the_topic(world):
    w = await world
    await run(
        services.share_update, user=w.ann, share_id=w.public.pk, allow_anonymous_comments=False, comment_interval=60
    )
    anonymous, _ = await viewer(w.public)
    ben, _ = await viewer(w.public, user=w.ben, address="10.0.0.3")
    refused = await send(anonymous, w.public, "comment.create", message="hi")
    assert refused["error"]["code"] == "unauthorized"
    assert (await send(ben, w.public, "comment.create", message=5))["error"]["code"] == "invalid"
    assert (await send(ben, w.public, "comment.create", message="x" * 201))["error"]["code"] == "invalid"
    assert (await send(ben, w.public, "comment.create", message="first"))["ok"]
    slow = await send(ben, w.public, "comment.create", message="second")
    assert slow["error"]["code"] == "rate_limited" and 59 <= slow["error"]["fields"]["retry_after"] <= 60
    await run(services.share_update, user=w.ann, share_id=w.public.pk, allow_comments=False)
    assert (await send(ben, w.public, "comment.create", message="third"))["error"]["code"] == "forbidden"
    await close(anonymous, ben)


# -- owner controls ----------------------------------------------------------------------


async def test_kicking_an_anonymous_viewer_closes_that_connection_and_bans_its_address(world):
    w = await world
    ann, _ = await owner(w, w.public)
    kicked, _ = await viewer(w.public, address="10.1.1.1")
    other, _ = await viewer(w.public, address="10.2.2.2")
    room = (await ann.next_event("room.updated"))["payload"]
    while room["viewers"] < 2:
        room = (await ann.next_event("room.updated"))["payload"]
    ids = [m["id"] for m in room["online"] if m["role"] == "viewer"]
    # The ids are opaque to the owner; the server reads which connection and address each is.
    target = next(i for i in ids if viewer_id_read(w.public, i)[1] == "10.1.1.1")
    assert (await send(ann, w.public, "viewer.kick", viewer=target))["ok"]
    assert (await kicked.next_event("share.kicked"))["payload"] == {"viewer": target}
    assert await kicked.close_code() == 4403
    await kicked.disconnect()  # the client's side of the close; a real socket does it at once
    room = (await ann.next_event("room.updated"))["payload"]
    assert room["viewers"] == 1
    assert (await other.send_event(topic(w.public), "comment.create", message="still here"))["ok"]

    back = await open_client(client_address="10.1.1.1")
    assert (await back.join(topic(w.public)))["error"]["code"] == "forbidden"
    await close(ann, other, back)


async def test_kicking_a_signed_in_viewer_closes_their_connections_and_they_cannot_rejoin(world):
    w = await world
    ann, _ = await owner(w, w.public)
    ben, reply = await viewer(w.public, user=w.ben, address="10.3.3.3")
    ben_id = next(m["id"] for m in reply["room"]["online"] if m["name"] == "Ben")
    assert (await send(ann, w.public, "viewer.kick", viewer=ben_id))["ok"]
    assert (await ben.next_event("share.kicked"))["payload"] == {"viewer": ben_id}
    assert await ben.close_code() == 4403
    again = await open_client(f"/ws/?token={token_for(w.ben)}", client_address="10.4.4.4")
    assert (await again.join(topic(w.public)))["error"]["code"] == "forbidden"
    await close(ann, ben, again)


async def test_ending_the_share_tells_everyone_then_removes_them(world, api_client_as):
    w = await world
    ann, _ = await owner(w, w.public)
    watcher, _ = await viewer(w.public)
    response = await run(api_client_as(w.ann).post, f"/api/shares/{w.public.pk}/end/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert (await watcher.next_event("share.ended"))["payload"] == {"reason": "ended"}
    assert (await ann.next_event("share.ended"))["payload"] == {"reason": "ended"}

    # The removal follows the event (on Redis, through another message): until it lands, a send
    # meets the ended share (not_found); then the connection is off the topic.
    codes = []
    deadline = time.monotonic() + 5
    while not codes or codes[-1] != "not_joined":
        assert time.monotonic() < deadline, codes
        if codes:
            await asyncio.sleep(0.05)  # polling, within the connection's rate limit
        codes.append((await send(watcher, w.public, "comment.create", message="hello?"))["error"]["code"])
    assert set(codes) <= {"not_found", "not_joined"}
    assert (await watcher.join(topic(w.public)))["error"]["code"] == "not_found"
    await close(ann, watcher)


async def test_an_expiring_share_ends_for_connected_viewers_without_a_cron(world):
    w = await world
    share = await run(
        services.share_create, user=w.ann, title="Brief", expires_at=timezone.now() + timedelta(seconds=1.5)
    )
    watcher, _ = await viewer(share)
    event = await watcher.next_event("share.ended", timeout=5)
    assert event["payload"] == {"reason": "expired"}
    assert (await watcher.join(topic(share)))["error"]["code"] == "not_found"
    await close(watcher)


async def test_a_new_password_removes_viewers_who_must_join_with_it(world, api_client_as):
    w = await world
    watcher, _ = await viewer(w.secret, password="open-sesame")
    response = await run(
        api_client_as(w.ann).patch, f"/api/shares/{w.secret.pk}/", {"password": "new-secret"}, format="json"
    )
    assert response.status_code == 200 and "password" not in response.json()
    assert (await watcher.next_event("share.revoked"))["payload"] == {"reason": "password"}
    assert (await watcher.join(topic(w.secret), password="open-sesame"))["error"]["code"] == "forbidden"
    assert (await watcher.join(topic(w.secret), password="new-secret"))["ok"]
    await close(watcher)


# -- the room summary --------------------------------------------------------------------


async def joined_slowly(client: Client, name: str) -> dict[str, Any]:
    """A join reply, waiting longer than a test client's usual 3 s (200 joins queue for the database)."""
    ref = await client.send(op="join", topic=name, params={})
    while True:
        frame = await client.receive(timeout=60)
        if frame.get("ref") == ref:
            return frame


async def test_room_updated_is_coalesced_when_200_viewers_join(world):
    w = await world
    ann, _ = await owner(w, w.public)
    crowd = await asyncio.gather(*(open_client(client_address=f"10.5.{n // 250}.{n % 250}") for n in range(200)))
    started = time.monotonic()
    replies = await asyncio.gather(*(joined_slowly(client, topic(w.public)) for client in crowd))
    elapsed = time.monotonic() - started
    assert all(reply["ok"] for reply in replies)
    frames = [f for f in await ann.drain(quiet=0.6) if f.get("event") == "room.updated"]
    # At most one summary per window (the topic coalesces over 500 ms) while joins keep coming.
    assert 1 <= len(frames) <= elapsed / 0.5 + 2 and len(frames) < len(crowd) / 4, (len(frames), elapsed)
    last = frames[-1]["payload"]
    assert last["viewers"] == 200 and last["owner_online"] is True
    assert len(last["online"]) == 100 and last["online"][0]["role"] == "owner"
    await close(ann, *crowd)

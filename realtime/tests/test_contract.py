"""The app contract of the core: inbox parts, room summaries, capped presence, removal with 4403,
deactivated users and the inbox's REST endpoint."""

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework import serializers

from config.api import IdField
from realtime import inbox, registry
from realtime.api import (
    Event,
    InboxPart,
    JoinContext,
    Joined,
    PresenceState,
    SendContext,
    TopicHandler,
    presence_state,
    publish,
    register_inbox_part,
    unread_changed,
)
from realtime.hub import get_hub
from realtime.presence import SNAPSHOT_LIMIT
from realtime.testing import open_client, token_for

pytestmark = [pytest.mark.django_db(transaction=True)]

User = get_user_model()
POINTS: dict[int, int] = {}


class PointsSerializer(serializers.Serializer):
    points = IdField(min_value=1, max_value=100)


def _points_add(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    user = ctx.require_user()
    with transaction.atomic():
        POINTS[user.pk] = POINTS.get(user.pk, 0) + data["points"]
        unread_changed(user_ids=[user.pk])
    return {"points": POINTS[user.pk], "state": ctx.state}


class PointsPart(InboxPart):
    """A test-only inbox part: a `points` counter, a `points.add` event and a join key."""

    name = "points"
    events = {"points.add": Event(_points_add, PointsSerializer)}

    def join(self, user: Any) -> tuple[dict[str, Any], Any]:
        return {"points_hello": f"hi {user.username}"}, "points-state"

    def counters(self, user_ids: list[int]) -> dict[int, dict[str, Any]]:
        return {user_id: {"points": POINTS.get(user_id, 0)} for user_id in user_ids}


@pytest.fixture
def points_part():
    POINTS.clear()
    register_inbox_part(PointsPart())
    yield
    inbox.unregister_inbox_part("points")


@pytest.fixture
def make_user():
    def make(username: str = "ann") -> Any:
        return User.objects.create_user(username=username, password="pw-123456789")

    return database_sync_to_async(make)


@pytest.mark.asyncio
async def test_inbox_part_adds_its_counter_event_and_join_keys_to_the_one_unread_object(points_part, make_user):
    ann = await make_user()
    client = await open_client(f"/ws/?token={token_for(ann)}")
    reply = await client.join("inbox")
    payload = reply["payload"]
    assert payload["points_hello"] == "hi ann"
    # Every part's counters in one object: the protocol's, chat's and the test part's.
    assert payload["unread"]["points"] == 0 and payload["unread"]["dms"] == 0
    assert payload["unread"]["notifications"] == 0 and payload["unread"]["channels"] == {}

    added = await client.send_event("inbox", "points.add", points=3)
    assert added["payload"] == {"points": 3, "state": "points-state"}  # the part's own join state
    unread = await client.next_event("unread")
    assert unread["payload"]["points"] == 3 and "dms_by_user" in unread["payload"]

    refused = await client.send_event("inbox", "points.add", points="3")
    assert refused["error"]["code"] == "invalid" and "points" in refused["error"]["fields"]
    unknown = await client.send_event("inbox", "points.remove", points=1)
    assert unknown["error"]["code"] == "bad_request"
    await client.disconnect()


@pytest.mark.django_db
def test_inbox_part_events_must_not_collide_with_another_part(points_part):
    class Greedy(InboxPart):
        name = "greedy"
        events = {"points.add": Event(_points_add)}

    with pytest.raises(ValueError, match="repeats events"):
        register_inbox_part(Greedy())


def _group_count(state: PresenceState, group: str) -> int:
    return state.groups.get(group, 0)


class RoomHandler(TopicHandler):
    """`room:<id>`: the user named "owner" is the owner; everyone else a viewer."""

    prefix = "room"
    presence = True
    room_event = "room.updated"
    presence_pinned = ("owner",)

    def join(self, ctx: JoinContext) -> Joined:
        if ctx.user is not None and ctx.user.username == "owner":
            return Joined(reply={}, presence_member="owner", presence_info={"name": "owner"}, presence_group="owner")
        name = ctx.user.username if ctx.user else "Anonymous"
        return Joined(reply={}, presence_info={"name": name}, presence_group="viewer")

    def room_summary(self, key: str, state: PresenceState) -> dict[str, Any]:
        return {
            "viewers": _group_count(state, "viewer"),
            "owner_online": _group_count(state, "owner") > 0,
            "online": state.members,
        }


@pytest.fixture
def room_handler():
    registry.register(RoomHandler())
    yield
    registry.unregister("room")


def _publish_marker(topic: str) -> None:
    with transaction.atomic():
        publish(topic, "marker", {})


@pytest.mark.asyncio
async def test_room_summary_replaces_presence_diff_and_counts_groups(room_handler, make_user):
    owner = await make_user("owner")
    viewer = await open_client()
    joined = await viewer.join("room:1")
    assert joined["payload"]["room"] == {"viewers": 1, "owner_online": False, "online": [{"name": "Anonymous"}]}
    assert "presence" not in joined["payload"]

    owner_client = await open_client(f"/ws/?token={token_for(owner)}")
    owner_reply = await owner_client.join("room:1")
    room = owner_reply["payload"]["room"]
    assert room["viewers"] == 1 and room["owner_online"] is True
    assert room["online"][0] == {"name": "owner"}  # pinned first
    updated = await viewer.next_event("room.updated")
    assert updated["payload"]["owner_online"] is True and updated["payload"]["viewers"] == 1

    await owner_client.disconnect()
    gone = await viewer.next_event("room.updated")
    assert gone["payload"] == {"viewers": 1, "owner_online": False, "online": [{"name": "Anonymous"}]}
    # A marker published after the change: a presence.diff, had one gone out, would come first.
    await database_sync_to_async(_publish_marker)("room:1")
    assert not [frame for frame in await viewer.until("marker") if frame.get("event") == "presence.diff"]
    await viewer.disconnect()


class SlowRoomHandler(RoomHandler):
    """`slowroom:<id>`: a room summary coalesced over 600 ms instead of the setting's window."""

    prefix = "slowroom"
    presence_window_ms = 600


@pytest.mark.asyncio
async def test_a_topic_may_coalesce_presence_over_its_own_window(settings):
    settings.REALTIME_PRESENCE_WINDOW_MS = 100
    registry.register(SlowRoomHandler())
    try:
        watcher = await open_client()
        assert (await watcher.join("slowroom:1"))["ok"]
        await watcher.drain(quiet=0.7)  # its own join's summary
        late = [await open_client(), await open_client()]
        assert (await late[0].join("slowroom:1"))["ok"]
        await asyncio.sleep(0.3)  # past the setting's 100 ms, within the topic's 600 ms
        assert (await late[1].join("slowroom:1"))["ok"]
        summaries = [f for f in await watcher.drain(quiet=0.8) if f.get("event") == "room.updated"]
        assert [f["payload"]["viewers"] for f in summaries] == [3]
        for client in (watcher, *late):
            await client.disconnect()
    finally:
        registry.unregister("slowroom")


@pytest.mark.asyncio
async def test_presence_state_from_sync_code_counts_the_room(room_handler, make_user):
    owner = await make_user("owner")
    viewers = [await open_client(), await open_client()]
    for viewer in viewers:
        assert (await viewer.join("room:2"))["ok"]
    owner_client = await open_client(f"/ws/?token={token_for(owner)}")
    assert (await owner_client.join("room:2"))["ok"]
    # A REST view runs in a thread off the event loop, as database_sync_to_async does here.
    state = await database_sync_to_async(presence_state)("room:2")
    assert state.count == 3 and state.groups == {"owner": 1, "viewer": 2}
    assert state.members[0] == {"name": "owner"}  # pinned first, as in the topic's summary
    for client in (*viewers, owner_client):
        await client.disconnect()
    assert (await database_sync_to_async(presence_state)("room:2")).count == 0


@pytest.mark.asyncio
async def test_capped_presence_list_includes_the_joiner(make_user):
    hub = await get_hub()
    for number in range(SNAPSHOT_LIMIT + 20):
        await hub.presence_add("test:crowd", f"u:{10_000 + number}", {"username": f"x{number}"}, f"c{number}")
    ann = await make_user("ann")
    client = await open_client(f"/ws/?token={token_for(ann)}")
    reply = await client.join("test:crowd")
    presence = reply["payload"]["presence"]
    assert len(presence) == SNAPSHOT_LIMIT and reply["payload"]["presence_count"] == SNAPSHOT_LIMIT + 21
    assert "ann" in {member.get("username") for member in presence}
    await client.disconnect()


@pytest.mark.asyncio
async def test_revoke_with_close_sends_the_event_then_closes_4403_only_for_that_user(make_user):
    ann, ben = await make_user("ann"), await make_user("ben")
    moderator = await open_client(f"/ws/?token={token_for(ann)}")
    banned = await open_client(f"/ws/?token={token_for(ben)}")
    await moderator.join("test:room")
    await banned.join("test:room")
    assert (await moderator.send_event("test:room", "ban", user_id=ben.pk))["ok"]
    event = await banned.next_event("banned")  # the explaining event first...
    assert event["payload"] == {"user_id": ben.pk}
    assert await banned.close_code() == 4403  # ...then the close
    assert (await moderator.send_event("test:room", "echo", text="still here"))["ok"]
    await moderator.disconnect()
    await banned.disconnect()


@pytest.mark.asyncio
async def test_revoke_of_one_connection_closes_4403_only_that_connection():
    owner, kicked, other = await open_client(), await open_client(), await open_client()
    for client in (owner, kicked, other):
        assert (await client.join("test:room"))["ok"]
    assert kicked.hello is not None
    assert (await owner.send_event("test:room", "kick", conn=kicked.hello["conn"]))["ok"]
    assert (await kicked.next_event("kicked"))["payload"] == {"conn": kicked.hello["conn"]}
    assert await kicked.close_code() == 4403
    # Another anonymous connection (no user id to tell them apart) stays on the topic.
    assert (await other.next_event("kicked"))["payload"] == {"conn": kicked.hello["conn"]}
    assert (await owner.send_event("test:room", "echo", text="still here"))["ok"]
    assert (await other.next_event("echoed"))["payload"] == {"text": "still here"}
    for client in (owner, kicked, other):
        await client.disconnect()


@pytest.mark.asyncio
async def test_deactivating_a_user_closes_their_connections_4403_and_refuses_their_token(make_user):
    ann, ben = await make_user("ann"), await make_user("ben")
    token = token_for(ann)
    first = await open_client(f"/ws/?token={token}")
    second = await open_client(session_user=ann)
    bystander = await open_client(f"/ws/?token={token_for(ben)}")
    for client in (first, second, bystander):
        assert (await client.join("test:room"))["ok"]

    def deactivate() -> None:
        ann.is_active = False
        ann.save(update_fields=["is_active"])  # a plain save, as the admin's Active box does

    await database_sync_to_async(deactivate)()
    assert await first.close_code() == 4403
    assert await second.close_code() == 4403
    assert (await bystander.request(op="ping"))["op"] == "pong"

    again = await open_client(f"/ws/?token={token}")
    assert again.closed_with == 4401
    by_session = await open_client(session_user=ann)
    assert by_session.hello is not None and by_session.hello["user"] is None
    for client in (first, second, bystander, again, by_session):
        await client.disconnect()

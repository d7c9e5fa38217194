"""Branches where something goes wrong or races: a crashing handler, a failed re-join, a
connection switching users, presence edge cases, and publishing while Redis is down."""

import asyncio
import logging

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import override_settings

from realtime.inbox import inbox_topic, unread_changed
from realtime.publish import publish
from realtime.testing import free_port, open_client, token_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def publish_now(topic: str, event: str, payload: dict) -> None:
    with transaction.atomic():
        publish(topic, event, payload, replayable=True)


async def test_a_crashing_handler_is_server_error_without_internals_and_the_connection_keeps_working(caplog):
    client = await open_client()
    await client.join("test:room")
    with caplog.at_level(logging.ERROR):
        reply = await client.send_event("test:room", "crash")
    assert reply["error"]["code"] == "server_error"
    assert "internal detail" not in reply["error"]["message"]
    assert "internal detail" in caplog.text  # the operator gets the traceback
    assert (await client.send_event("test:room", "echo", text="still here"))["ok"]
    await client.disconnect()


async def test_a_failed_rejoin_keeps_the_existing_subscription():
    watcher, sender = await open_client(), await open_client()
    await watcher.join("test:room")
    await sender.join("test:room")
    refused = await watcher.join("test:room", color=5)
    assert refused["error"]["code"] == "invalid"
    await sender.send_event("test:room", "echo", text="after the refusal")
    assert (await watcher.next_event("echoed"))["payload"] == {"text": "after the refusal"}
    assert (await watcher.send_event("test:room", "echo", text="me too"))["ok"]  # still joined
    await watcher.disconnect()
    await sender.disconnect()


async def test_auth_as_another_user_leaves_every_topic_of_the_first(make_user):
    owner, ben = await make_user("owner"), await make_user("ben")
    watcher = await open_client(f"/ws/?token={token_for(ben)}")
    await watcher.join("test:room")
    await watcher.next_event("presence.diff")  # ben's own join
    client = await open_client(f"/ws/?token={token_for(owner)}")
    assert (await client.join("test:private"))["ok"]
    await client.join("test:room")
    assert (await client.join("inbox"))["ok"]
    joined = await watcher.next_event("presence.diff")
    assert [member["username"] for member in joined["payload"]["joins"]] == ["owner"]

    switched = await client.request(op="auth", token=token_for(ben))
    assert switched["payload"]["user"]["username"] == "ben"

    left = await watcher.next_event("presence.diff")  # presence moved: owner left, ben was already there
    assert [member["username"] for member in left["payload"]["leaves"]] == ["owner"]
    assert left["payload"]["joins"] == [] and left["payload"]["count"] == 1
    assert (await client.send_event("test:private", "echo"))["error"]["code"] == "not_joined"
    assert (await client.join("test:private"))["error"]["code"] == "forbidden"  # ben is not the owner
    # The owner's inbox no longer reaches this connection: a marker on a topic ben joins comes first.
    await client.join("test:marker")
    await database_sync_to_async(publish_now)(inbox_topic(owner.pk), "secret", {"for": "owner"})
    await database_sync_to_async(publish_now)("test:marker", "marker", {})
    frames = await client.until("marker")
    assert [frame for frame in frames if frame.get("topic") == "inbox"] == []
    await client.disconnect()
    await watcher.disconnect()


async def test_join_and_leave_inside_one_presence_window_send_no_diff(make_user):
    cat, dan = await make_user("cat"), await make_user("dan")
    watcher = await open_client()
    await watcher.join("test:room")
    await watcher.next_event("presence.diff")  # the watcher's own join
    brief = await open_client(f"/ws/?token={token_for(cat)}")
    await brief.join("test:room")
    await brief.disconnect()  # well inside the 200 ms window
    await asyncio.sleep(0.3)  # let that window close, so dan's join starts a new one
    late = await open_client(f"/ws/?token={token_for(dan)}")
    await late.join("test:room")
    first = await watcher.next_event("presence.diff")
    assert first["payload"] == {
        "joins": [{"id": dan.pk, "username": "dan", "display_name": "Dan"}],
        "leaves": [],
        "count": 2,
    }
    await late.disconnect()
    await watcher.disconnect()


async def test_presence_above_100_members_lists_100_with_the_joiner_and_counts_all():
    clients = [await open_client() for _ in range(104)]
    for client in clients:
        await client.join("test:crowd")
    last = await open_client(f"/ws/?token={token_for(await _user('zed'))}")
    reply = await last.join("test:crowd")
    assert reply["payload"]["presence_count"] == 105
    assert len(reply["payload"]["presence"]) == 100
    assert [member for member in reply["payload"]["presence"] if member.get("username") == "zed"]  # the joiner
    for client in [*clients, last]:
        await client.disconnect()


@database_sync_to_async
def _user(username: str) -> object:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password="pw-123456789")


async def test_last_leave_and_a_new_join_racing_keep_the_process_subscribed():
    first, second = await open_client(), await open_client()
    await first.join("test:race")
    # The last local connection leaves (its unsubscribe is queued) while another joins.
    left, joined = await asyncio.gather(first.request(op="leave", topic="test:race"), second.join("test:race"))
    assert left["ok"] and joined["ok"]
    await database_sync_to_async(publish_now)("test:race", "after", {"n": 1})
    assert (await second.next_event("after"))["payload"] == {"n": 1}
    await first.disconnect()
    await second.disconnect()


async def test_unread_changed_while_redis_is_down_never_breaks_the_write(make_user, caplog):
    ann = await make_user("ann")

    def write() -> bool:
        url = f"redis://127.0.0.1:{free_port()}/0"
        with override_settings(REDIS_URL=url, REDIS_URLS=[url]), transaction.atomic():
            publish_now("test:room", "written", {})
            unread_changed(user_ids=[ann.pk])  # runs after commit, against a Redis that is not there
        return True

    with caplog.at_level(logging.ERROR):
        assert await database_sync_to_async(write)()
    assert "ConnectionError" in caplog.text, caplog.text  # logged for the operator, not raised into the write
    from realtime.testing import stored_events

    events = await database_sync_to_async(stored_events)("test:room")
    assert [event.event for event in events] == ["written"]


async def test_the_hub_keeps_receiving_after_its_channel_layer_fails_once():
    from realtime.hub import get_hub

    client = await open_client()
    await client.join("test:layer")
    hub = await get_hub()
    # Through the layer, as on Redis (on the in-memory layer the hub delivers its own sends).
    hub.delivers_locally = False
    layer = hub.layer
    real_receive = layer.receive
    failures = []

    async def failing_once(channel: str) -> dict:
        if not failures:
            failures.append(channel)
            raise ConnectionError("the layer's connection broke")
        return await real_receive(channel)

    layer.receive = failing_once
    try:
        # The receive in progress returns this event; the next one fails, and the hub retries.
        await database_sync_to_async(publish_now)("test:layer", "first", {})
        assert (await client.next_event("first"))["event"] == "first"
        await database_sync_to_async(publish_now)("test:layer", "second", {})
        assert (await client.next_event("second", timeout=5))["event"] == "second"
        assert failures  # the failure did happen
    finally:
        layer.receive = real_receive
        hub.delivers_locally = True
    await client.disconnect()


async def test_output_past_the_bound_without_a_raw_transport_closes_1011():
    # In-process there is no raw socket to abort: the ASGI-send outbox is what is bounded.
    reader = await open_client()
    await reader.join("test:big")
    with override_settings(REALTIME_MAX_BUFFERED_BYTES=2000):
        await database_sync_to_async(publish_now)("test:big", "big", {"text": "x" * 3000})
        assert await reader.close_code() == 1011
    await reader.disconnect()

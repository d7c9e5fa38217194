"""`chat:<id>` and `inbox` over the real ASGI stack (WebsocketCommunicator through the realtime core)."""

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import user_follow
from accounts.tests.factories import UserFactory, make_friends
from chat import selectors, services
from chat.models import DirectMessage, Membership, Message
from chat.payloads import message_data
from chat.tests.conftest import join, make_moderator
from chat.tests.factories import ChannelFactory
from realtime.testing import Client, open_client, token_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def run(function: Any, *args: Any, **kwargs: Any) -> Any:
    return database_sync_to_async(function)(*args, **kwargs)


def u(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "username": user.username, "display_name": user.display_name}


def make_world() -> SimpleNamespace:
    ann = UserFactory(username="ann", display_name="Ann")
    ben = UserFactory(username="ben", display_name="Ben")
    cat = UserFactory(username="cat", display_name="Cat")
    mod = make_moderator(UserFactory(username="mod", display_name="Mod"))
    make_friends(ann, ben)
    general = ChannelFactory(name="General", slug="general", created_by=ann)
    join(ann, general, Membership.Role.ADMIN)
    join(ben, general)
    secret = ChannelFactory(name="Secret", slug="secret", is_private=True, created_by=ann)
    join(ann, secret, Membership.Role.ADMIN)
    return SimpleNamespace(ann=ann, ben=ben, cat=cat, mod=mod, general=general, secret=secret)


@pytest.fixture
def world():
    return run(make_world)


async def connect(user: Any) -> Client:
    client = await open_client(f"/ws/?token={token_for(user)}")
    assert client.hello and client.hello["user"]["id"] == user.pk
    return client


async def joined(user: Any, topic: str, **params: Any) -> tuple[Client, dict[str, Any]]:
    client = await connect(user)
    reply = await client.join(topic, **params)
    assert reply["ok"], reply
    return client, reply["payload"]


async def send(client: Client, topic: str, event: str, **payload: Any) -> dict[str, Any]:
    return await client.request(op="send", topic=topic, event=event, payload=payload)


async def events(client: Client, name: str | None = None) -> list[dict[str, Any]]:
    """Every event frame until the connection is quiet, optionally only those named `name`."""
    frames = await client.drain()
    return [f for f in frames if f.get("op") == "event" and (name is None or f["event"] == name)]


async def arrived(client: Client, name: str) -> list[dict[str, Any]]:
    """The events named `name`: waits for the first, then collects the rest until the connection is quiet."""
    first = await client.next_event(name)
    return [first, *await events(client, name)]


async def arrived_n(client: Client, name: str, count: int) -> list[dict[str, Any]]:
    """The events named `name`: waits for `count` of them, then collects any more until quiet."""
    first = [await client.next_event(name) for _ in range(count)]
    return [*first, *await events(client, name)]


async def close(*clients: Client) -> None:
    for client in clients:
        await client.disconnect()


def rest_as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


# -- chat: join --------------------------------------------------------------------


async def test_join_public_channel_makes_a_member_and_replies_with_its_state(world):
    w = await world
    await run(
        lambda: [
            services.message_create(user=w.ann, channel_id=w.general.pk, body=f"m{i}", client_id=f"m{i}")
            for i in range(55)
        ]
    )

    client, reply = await joined(w.cat, f"chat:{w.general.pk}")

    assert reply["channel"] == {
        "id": w.general.pk,
        "name": "General",
        "slug": "general",
        "description": "",
        "is_private": False,
        "is_archived": False,
        "created_at": reply["channel"]["created_at"],
        "member_count": 3,
    }
    assert [m["seq"] for m in reply["messages"]] == list(range(6, 56))  # the last 50, oldest first
    assert reply["messages"][0]["body"] == "m5" and reply["messages"][0]["author"] == u(w.ann)
    assert reply["last_read_seq"] == 55  # a new member starts with everything read
    assert (reply["missed"], reply["reset"], reply["seq"]) == ([], False, 55)
    assert reply["presence"] == [u(w.cat)] and reply["presence_count"] == 1
    assert await run(lambda: Membership.objects.filter(channel=w.general, user=w.cat).exists())
    await close(client)


async def test_join_refusals_in_protocol_order(world):
    w = await world
    anonymous = await open_client()
    assert (await anonymous.join("chat:999999"))["error"]["code"] == "not_found"
    assert (await anonymous.join(f"chat:{w.general.pk}"))["error"]["code"] == "unauthorized"
    cat = await connect(w.cat)
    assert (await cat.join("chat:999999"))["error"]["code"] == "not_found"
    assert (await cat.join("chat:abc"))["error"]["code"] == "not_found"
    assert (await cat.join("chat"))["error"]["code"] == "not_found"
    assert (await cat.join("chat:" + "9" * 40))["error"]["code"] == "not_found"
    assert (await cat.join(f"chat:{w.secret.pk}"))["error"]["code"] == "forbidden"
    assert (await cat.join(f"chat:{w.general.pk}", since="x"))["error"]["code"] == "invalid"
    assert not await run(lambda: Membership.objects.filter(user=w.cat, channel=w.secret).exists())
    await close(anonymous, cat)


async def test_archived_public_channel_can_be_read_but_not_written(world):
    w = await world
    await run(services.message_create, user=w.ann, channel_id=w.general.pk, body="old news", client_id="a")
    await run(services.channel_update, user=w.mod, channel_id=w.general.pk, is_archived=True)
    topic = f"chat:{w.general.pk}"

    cat, reply = await joined(w.cat, topic)
    assert reply["channel"]["is_archived"] is True and [m["body"] for m in reply["messages"]] == ["old news"]
    assert (await send(cat, topic, "typing", typing=True))["error"]["code"] == "forbidden"
    assert (await send(cat, topic, "message.create", body="x", client_id="c"))["error"]["code"] == "forbidden"
    ben, _ = await joined(w.ben, topic)
    refused = await send(ben, topic, "message.create", body="", client_id="c")
    assert refused["error"]["code"] == "forbidden"  # forbidden before invalid
    assert not await run(lambda: Membership.objects.filter(user=w.cat, channel=w.general).exists())
    await close(cat, ben)


# -- chat: messages ----------------------------------------------------------------


async def test_message_create_reaches_every_connection_with_its_seq(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    ben, _ = await joined(w.ben, topic)
    ben_phone, _ = await joined(w.ben, topic)

    reply = await send(ann, topic, "message.create", body=" hello ", client_id="c1", extra="ignored")

    assert reply["ok"]
    message = reply["payload"]["message"]
    assert message["body"] == "hello" and message["seq"] == 1 and message["client_id"] == "c1"
    for client in (ann, ben, ben_phone):
        event = await client.next_event("message.created")
        assert event == {
            "op": "event",
            "topic": topic,
            "event": "message.created",
            "payload": {"message": message},
            "seq": 1,
        }
    await close(ann, ben, ben_phone)


async def test_message_create_resend_with_the_same_client_id_creates_nothing(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    ben, _ = await joined(w.ben, topic)
    first = await send(ann, topic, "message.create", body="once", client_id="same")
    await ben.next_event("message.created")
    await ben.drain()

    again = await send(ann, topic, "message.create", body="once", client_id="same")

    assert again["payload"] == first["payload"]
    assert await events(ben, "message.created") == []
    assert await run(Message.objects.count) == 1
    await close(ann, ben)


async def test_message_create_invalid_payloads(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    cases = [
        ({"body": "", "client_id": "a"}, "body"),
        ({"body": "x" * 4001, "client_id": "a"}, "body"),
        ({"body": 5, "client_id": "a"}, "body"),
        ({"client_id": "a"}, "body"),
        ({"body": "ok"}, "client_id"),
        ({"body": "ok", "client_id": "c" * 65}, "client_id"),
    ]
    for payload, field in cases:
        reply = await ann.request(op="send", topic=topic, event="message.create", payload=payload)
        assert reply["error"]["code"] == "invalid" and field in reply["error"]["fields"], payload
    assert (await send(ann, topic, "message.pin", id=1))["error"]["code"] == "bad_request"
    assert (await send(ann, "chat:999999", "message.create", body="x", client_id="a"))["error"]["code"] == "not_joined"
    assert await run(Message.objects.count) == 0
    await close(ann)


async def test_edit_and_delete_by_author_moderator_and_others(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    ben, _ = await joined(w.ben, topic)
    created = (await send(ann, topic, "message.create", body="draft", client_id="c1"))["payload"]["message"]
    await ben.drain()

    assert (await send(ben, topic, "message.update", id=created["id"], body="mine"))["error"]["code"] == "forbidden"
    assert (await send(ben, topic, "message.delete", id=created["id"]))["error"]["code"] == "forbidden"
    assert (await send(ann, topic, "message.update", id=999999, body="x"))["error"]["code"] == "not_found"
    assert (await send(ann, topic, "message.update", id="x", body="x"))["error"]["code"] == "invalid"
    assert (await send(ann, topic, "message.update", id=10**30, body="x"))["error"]["code"] == "invalid"

    edited = await send(ann, topic, "message.update", id=created["id"], body="final")
    assert edited["payload"]["message"]["body"] == "final"
    event = await ben.next_event("message.updated")
    assert event["seq"] == 2 and event["payload"]["message"]["seq"] == 1 and event["payload"]["message"]["edited_at"]

    mod, _ = await joined(w.mod, topic)
    removed = await send(mod, topic, "message.delete", id=created["id"])
    assert removed["payload"]["message"]["deleted"] is True and removed["payload"]["message"]["body"] == ""
    for client in (ann, ben):
        deleted = await client.next_event("message.deleted")
        assert deleted["seq"] == 3 and deleted["payload"]["message"] == removed["payload"]["message"]
    assert (await send(ann, topic, "message.update", id=created["id"], body="x"))["error"]["code"] == "conflict"
    await close(ann, ben, mod)


async def test_message_in_another_channel_is_not_found_through_this_topic(world):
    w = await world
    other = await run(lambda: services.message_create(user=w.ann, channel_id=w.secret.pk, body="x", client_id="s")[0])
    ann, _ = await joined(w.ann, f"chat:{w.general.pk}")
    reply = await send(ann, f"chat:{w.general.pk}", "message.delete", id=other.pk)
    assert reply["error"]["code"] == "not_found"
    await close(ann)


async def test_rest_send_appears_live_on_every_connection(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    ben, _ = await joined(w.ben, topic)

    response = await run(
        lambda: rest_as(w.ben).post(
            f"/api/chat/channels/{w.general.pk}/messages/", {"body": "from REST"}, format="json"
        )
    )

    assert response.status_code == 201
    for client in (ann, ben):
        event = await client.next_event("message.created")
        assert event["payload"]["message"] == response.json() and event["seq"] == response.json()["seq"]
    await close(ann, ben)


async def test_rejoin_with_since_replays_missed_chat_events_in_order(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ben, _ = await joined(w.ben, topic)
    await send(ben, topic, "message.create", body="seen", client_id="b1")
    seen = (await ben.next_event("message.created"))["seq"]
    await close(ben)

    def while_away() -> None:
        message, _ = services.message_create(user=w.ann, channel_id=w.general.pk, body="missed", client_id="a1")
        services.message_update(user=w.ann, message_id=message.pk, body="missed, edited")
        gone, _ = services.message_create(user=w.ann, channel_id=w.general.pk, body="gone", client_id="a2")
        services.message_delete(user=w.ann, message_id=gone.pk)

    await run(while_away)
    ben, reply = await joined(w.ben, topic, since=seen)

    missed = reply["missed"]
    assert [(e["event"], e["seq"]) for e in missed] == [
        ("message.created", 2),
        ("message.updated", 3),
        ("message.created", 4),
        ("message.deleted", 5),
    ]
    assert missed[1]["payload"]["message"]["body"] == "missed, edited"
    assert missed[3]["payload"]["message"]["body"] == "" and reply["reset"] is False and reply["seq"] == 5
    # The join's own history shows the deleted message as deleted, never its text.
    assert [(m["body"], m["deleted"]) for m in reply["messages"]][-1] == ("", True)
    assert "gone" not in str(reply)
    await close(ben)


async def test_each_join_shows_every_change_to_the_history_since_the_last_one(world):
    # Joins share a copy of a channel's recent messages (chat.history): every change below
    # must show in the very next join, whichever way it was made.
    w = await world
    topic = f"chat:{w.general.pk}"

    def current() -> list[dict[str, Any]]:
        return [message_data(m) for m in selectors.message_list_latest(channel_id=w.general.pk)]

    async def history() -> list[dict[str, Any]]:
        client, reply = await joined(w.ben, topic)
        await close(client)
        assert reply["messages"] == await run(current)
        return reply["messages"]

    assert await history() == []
    first, _ = await run(services.message_create, user=w.ann, channel_id=w.general.pk, body="one", client_id="1")
    assert [m["body"] for m in await history()] == ["one"]
    assert [m["body"] for m in await history()] == ["one"]  # from the copy
    ann, _ = await joined(w.ann, topic)
    await send(ann, topic, "message.create", body="two", client_id="2")
    assert [m["body"] for m in await history()] == ["one", "two"]
    await send(ann, topic, "message.update", id=first.pk, body="one, edited")
    assert [m["body"] for m in await history()] == ["one, edited", "two"]
    await send(ann, topic, "message.delete", id=first.pk)
    assert [(m["body"], m["deleted"]) for m in await history()] == [("", True), ("two", False)]
    await run(services.message_restore, user=w.mod, message_id=first.pk)
    assert [(m["body"], m["deleted"]) for m in await history()] == [("one, edited", False), ("two", False)]

    def rename() -> None:
        w.ann.display_name = "Ann B."
        w.ann.save(update_fields=["display_name"])

    await run(rename)  # no event: the authors' rows are checked on each join
    assert {m["author"]["display_name"] for m in await history()} == {"Ann B."}
    cat, _ = await joined(w.cat, topic)
    await send(cat, topic, "message.create", body="by cat", client_id="3")
    assert [m["body"] for m in await history()] == ["one, edited", "two", "by cat"]
    await close(ann, cat)
    await run(lambda: w.cat.delete())  # their messages go with them, without an event
    assert [m["body"] for m in await history()] == ["one, edited", "two"]


async def test_membership_changes_in_this_process_show_in_the_next_join_member_count(world):
    # Join replies share a count for up to MEMBER_COUNT_SECONDS; this process's changes drop it.
    w = await world
    topic = f"chat:{w.general.pk}"

    async def member_count() -> int:
        client, reply = await joined(w.ben, topic)
        await close(client)
        return reply["channel"]["member_count"]

    assert await member_count() == 2
    await run(services.channel_member_add, user=w.ann, channel_id=w.general.pk, member_id=w.cat.pk)
    assert await member_count() == 3
    await run(services.channel_member_remove, user=w.cat, channel_id=w.general.pk, member_id=w.cat.pk)
    assert await member_count() == 2
    cat, reply = await joined(w.cat, topic)  # joining a public channel makes a member
    assert reply["channel"]["member_count"] == 3 and await member_count() == 3
    await close(cat)


async def test_a_private_channel_history_is_never_given_to_a_non_member(world):
    w = await world
    topic = f"chat:{w.secret.pk}"
    await run(services.message_create, user=w.ann, channel_id=w.secret.pk, body="secret", client_id="s")
    await run(services.channel_member_add, user=w.ann, channel_id=w.secret.pk, member_id=w.ben.pk)
    ann, reply = await joined(w.ann, topic)  # the channel's history is now kept in this process
    assert [m["body"] for m in reply["messages"]] == ["secret"]
    ben, reply = await joined(w.ben, topic)
    assert [m["body"] for m in reply["messages"]] == ["secret"]
    await close(ben)
    await run(services.channel_member_remove, user=w.ann, channel_id=w.secret.pk, member_id=w.ben.pk)

    for user in (w.ben, w.cat):
        client = await connect(user)
        refused = await client.join(topic)
        assert refused["error"]["code"] == "forbidden" and "secret" not in str(refused)
        await close(client)
    await close(ann)


# -- chat: typing, read marks, presence ---------------------------------------------


async def test_typing_goes_to_the_others_once_a_second(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    ann_phone, _ = await joined(w.ann, topic)
    ben, _ = await joined(w.ben, topic)
    for client in (ann, ann_phone, ben):
        await client.drain()

    assert (await send(ann, topic, "typing", typing=True))["ok"]
    assert (await send(ann, topic, "typing", typing=False))["ok"]  # within a second: not forwarded

    assert [e["payload"] for e in await arrived(ben, "typing")] == [{"user": u(w.ann), "typing": True}]
    assert [e["payload"] for e in await arrived(ann_phone, "typing")] == [{"user": u(w.ann), "typing": True}]
    assert await events(ann, "typing") == []  # never echoed to the sending connection
    assert (await send(ann, topic, "typing", typing="yes"))["error"]["code"] == "invalid"
    await close(ann, ann_phone, ben)


async def test_read_mark_is_stored_broadcast_and_updates_the_readers_inbox(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    ben, _ = await joined(w.ben, topic)
    ben_inbox, inbox_reply = await joined(w.ben, "inbox")
    assert inbox_reply["unread"]["channels"] == {str(w.general.pk): 0}
    for i in range(3):
        await send(ann, topic, "message.create", body=f"m{i}", client_id=f"m{i}")
    unread = await ben_inbox.next_event("unread")
    while unread["payload"]["channels"] != {str(w.general.pk): 3}:
        unread = await ben_inbox.next_event("unread")
    assert "seq" not in unread
    await ann.drain()

    reply = await send(ben, topic, "read", seq=2)

    assert reply["payload"] == {"last_read_seq": 2}
    assert [e["payload"] for e in await arrived(ann, "read")] == [{"user": u(w.ben), "seq": 2}]
    assert [e["payload"] for e in await arrived(ben_inbox, "unread")] == [
        {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {str(w.general.pk): 1}}
    ]
    assert await run(lambda: Membership.objects.get(user=w.ben, channel=w.general).last_read_seq) == 2
    assert (await send(ben, topic, "read", seq="2"))["error"]["code"] == "invalid"
    _, again = await joined(w.ben, topic)
    assert again["last_read_seq"] == 2
    await close(ann, ben, ben_inbox)


async def test_chat_presence_counts_a_user_once_across_tabs(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    await ann.drain()
    ben, _ = await joined(w.ben, topic)
    ben_tab, reply_tab = await joined(w.ben, topic)

    assert reply_tab["presence_count"] == 2
    diffs = await arrived(ann, "presence.diff")
    assert [d["payload"] for d in diffs] == [{"joins": [u(w.ben)], "leaves": [], "count": 2}]
    await close(ben_tab)
    assert await events(ann, "presence.diff") == []
    await close(ben)
    assert [d["payload"]["leaves"] for d in await arrived(ann, "presence.diff")] == [[u(w.ben)]]
    await close(ann)


async def test_leaving_a_channel_stops_its_events_on_every_connection(world):
    w = await world
    topic = f"chat:{w.general.pk}"
    ann, _ = await joined(w.ann, topic)
    ben, _ = await joined(w.ben, topic)

    response = await run(lambda: rest_as(w.ben).post(f"/api/chat/channels/{w.general.pk}/leave/"))
    assert response.status_code == 204
    for client in (ann, ben):  # the event that explains the removal comes first
        assert (await client.next_event("member.left"))["payload"] == {"user": u(w.ben)}
    await ben.drain()
    await send(ann, topic, "message.create", body="after", client_id="a")

    assert await events(ben, "message.created") == []
    assert (await send(ben, topic, "typing", typing=True))["error"]["code"] == "not_joined"
    await close(ann, ben)


# -- inbox ---------------------------------------------------------------------------


async def test_inbox_join_reply_and_topic_rules(world):
    w = await world
    await run(services.dm_send, sender=w.ben, recipient_id=w.ann.pk, body="hi", client_id="x")
    await run(services.message_create, user=w.ben, channel_id=w.general.pk, body="hey", client_id="y")

    ann, reply = await joined(w.ann, "inbox")
    assert reply["unread"] == {
        "dms": 1,
        "dms_by_user": {str(w.ben.pk): 1},
        "notifications": 0,
        "channels": {str(w.general.pk): 1, str(w.secret.pk): 0},
    }
    assert (reply["missed"], reply["reset"], reply["seq"]) == ([], False, 1)
    assert reply["friends_online"] == []  # ben is not connected
    assert "presence" not in reply
    # The REST counters are the join reply's, key for key.
    assert await run(lambda: rest_as(w.ann).get("/api/chat/unread/").json()) == reply["unread"]
    assert (await ann.join(f"inbox:{w.ben.pk}"))["error"]["code"] == "bad_request"
    assert (await ann.join("inbox:x"))["error"]["code"] == "bad_request"
    anonymous = await open_client()
    assert (await anonymous.join("inbox"))["error"]["code"] == "unauthorized"
    await close(ann, anonymous)


async def test_dm_send_reaches_every_device_of_both_sides(world):
    w = await world
    ann, _ = await joined(w.ann, "inbox")
    ann_phone, _ = await joined(w.ann, "inbox")
    ben, _ = await joined(w.ben, "inbox")
    for client in (ann, ann_phone, ben):
        await client.drain()

    reply = await send(ann, "inbox", "dm.send", to=w.ben.pk, body=" hi ben ", client_id="d1")

    message = reply["payload"]["message"]
    assert message["from"] == u(w.ann) and message["to"] == u(w.ben) and message["body"] == "hi ben"
    for client in (ann, ann_phone, ben):
        event = await client.next_event("dm.created")
        assert event == {
            "op": "event",
            "topic": "inbox",
            "event": "dm.created",
            "payload": {"message": message},
            "seq": 1,
        }
    assert [(e["payload"]["dms"], e["payload"]["dms_by_user"]) for e in await arrived(ben, "unread")] == [
        (1, {str(w.ann.pk): 1})
    ]
    assert await events(ann, "unread") == []
    again = await send(ann, "inbox", "dm.send", to=w.ben.pk, body="hi ben", client_id="d1")
    assert again["payload"]["message"] == message
    assert await events(ben, "dm.created") == []
    await close(ann, ann_phone, ben)


async def test_dm_to_a_non_friend_is_forbidden_and_nothing_is_stored(world):
    w = await world
    ann, _ = await joined(w.ann, "inbox")
    cat, _ = await joined(w.cat, "inbox")
    await cat.drain()

    reply = await send(ann, "inbox", "dm.send", to=w.cat.pk, body="hi", client_id="d1")

    assert reply["error"]["code"] == "forbidden"
    assert (await send(ann, "inbox", "dm.send", to=999999, body="hi", client_id="d2"))["error"]["code"] == "not_found"
    assert (await send(ann, "inbox", "dm.send", to="ben", body="hi", client_id="d3"))["error"]["code"] == "invalid"
    assert (await send(ann, "inbox", "dm.typing", to=w.cat.pk, typing=True))["error"]["code"] == "forbidden"
    assert await events(cat) == []
    assert await run(DirectMessage.objects.count) == 0
    await close(ann, cat)


async def test_offline_friend_gets_waiting_dms_on_the_next_connection(world):
    w = await world
    ben, reply = await joined(w.ben, "inbox")
    last_seen = reply["seq"]
    await close(ben)

    ann, _ = await joined(w.ann, "inbox")
    sent = [
        (await send(ann, "inbox", "dm.send", to=w.ben.pk, body=f"while away {i}", client_id=f"w{i}"))["payload"][
            "message"
        ]
        for i in range(2)
    ]

    # Resuming from the last seq seen: the missed events, in order.
    ben, reply = await joined(w.ben, "inbox", since=last_seen)
    assert [(e["event"], e["seq"], e["topic"]) for e in reply["missed"]] == [
        ("dm.created", 1, "inbox"),
        ("dm.created", 2, "inbox"),
    ]
    assert [e["payload"]["message"] for e in reply["missed"]] == sent
    assert reply["unread"]["dms"] == 2
    # A fresh device (no since) sees them through the counters and the conversation list.
    fresh, fresh_reply = await joined(w.ben, "inbox")
    assert fresh_reply["unread"]["dms"] == 2 and fresh_reply["missed"] == []
    [entry] = await run(lambda: selectors.conversation_entries(friends=list(selectors.conversation_list(user=w.ben))))
    assert entry["user"] == u(w.ann) and entry["unread_count"] == 2 and entry["is_online"] is True
    assert entry["last_message"] == sent[-1]
    await close(ann, ben, fresh)


async def test_dm_edit_delete_and_read_reach_both_sides_everywhere(world):
    w = await world
    ann, _ = await joined(w.ann, "inbox")
    ann_phone, _ = await joined(w.ann, "inbox")
    ben, _ = await joined(w.ben, "inbox")
    ben_phone, _ = await joined(w.ben, "inbox")
    message = (await send(ann, "inbox", "dm.send", to=w.ben.pk, body="tpyo", client_id="d1"))["payload"]["message"]
    everyone = (ann, ann_phone, ben, ben_phone)
    for client in everyone:
        await client.drain()

    assert (await send(ben, "inbox", "dm.update", id=message["id"], body="mine"))["error"]["code"] == "forbidden"
    edited = await send(ann, "inbox", "dm.update", id=message["id"], body="typo")
    assert edited["payload"]["message"]["body"] == "typo"
    for client in everyone:
        assert (await client.next_event("dm.updated"))["payload"] == edited["payload"]

    read = await send(ben_phone, "inbox", "dm.read", **{"with": w.ann.pk, "up_to": message["id"]})
    assert read["payload"] == {"up_to": message["id"], "marked": 1}
    for client in (ben, ben_phone):  # "I (ben) read ann's messages"
        assert (await client.next_event("dm.read"))["payload"] == {
            "with": u(w.ann),
            "up_to": message["id"],
            "reader": u(w.ben),
        }
    for client in (ann, ann_phone):  # "ben read mine"
        assert (await client.next_event("dm.read"))["payload"] == {
            "with": u(w.ben),
            "up_to": message["id"],
            "reader": u(w.ben),
        }

    deleted = await send(ann_phone, "inbox", "dm.delete", id=message["id"])
    assert deleted["payload"]["message"]["deleted"] is True and deleted["payload"]["message"]["body"] == ""
    for client in everyone:
        event = await client.next_event("dm.deleted")
        assert event["payload"]["message"]["body"] == "" and "typo" not in str(event)
    assert (await send(ann, "inbox", "dm.update", id=message["id"], body="x"))["error"]["code"] == "conflict"
    await close(*everyone)


async def test_dm_typing_reaches_the_friend_once_a_second(world):
    w = await world
    ann, _ = await joined(w.ann, "inbox")
    ben, _ = await joined(w.ben, "inbox")
    await ben.drain()

    assert (await send(ann, "inbox", "dm.typing", to=w.ben.pk, typing=True))["ok"]
    assert (await send(ann, "inbox", "dm.typing", to=w.ben.pk, typing=True))["ok"]

    assert [e["payload"] for e in await arrived(ben, "dm.typing")] == [{"from": u(w.ann), "typing": True}]
    assert (await send(ann, "inbox", "dm.typing", to=w.ben.pk, typing=1))["error"]["code"] == "invalid"
    await close(ann, ben)


async def test_friends_presence_counts_several_tabs_once(world):
    w = await world
    ben, _ = await joined(w.ben, "inbox")
    cat, _ = await joined(w.cat, "inbox")
    await ben.drain()

    tab1 = await connect(w.ann)
    assert [e["payload"] for e in await arrived(ben, "presence")] == [{"user": u(w.ann), "online": True}]
    tab2 = await connect(w.ann)
    assert await events(ben, "presence") == []
    await close(tab1)
    assert await events(ben, "presence") == []
    await close(tab2)
    assert [e["payload"] for e in await arrived(ben, "presence")] == [{"user": u(w.ann), "online": False}]
    assert await events(cat, "presence") == []  # not a friend
    await close(ben, cat)


async def test_friends_coming_online_together_are_each_announced_once(world):
    w = await world
    await run(make_friends, w.ann, w.cat)
    await run(make_friends, w.ann, w.mod)
    await run(make_friends, w.ben, w.mod)
    ann, _ = await joined(w.ann, "inbox")
    await ann.drain()

    # Connects that arrive together reach chat as one batch of presence changes.
    friends = (w.ben, w.cat, w.mod)
    tabs = await asyncio.gather(*(connect(friend) for friend in friends))
    online = [e["payload"] for e in await arrived_n(ann, "presence", 3)]
    assert sorted(online, key=lambda p: p["user"]["id"]) == [{"user": u(f), "online": True} for f in friends]
    await asyncio.gather(*(tab.disconnect() for tab in tabs))
    offline = [e["payload"] for e in await arrived_n(ann, "presence", 3)]
    assert sorted(offline, key=lambda p: p["user"]["id"]) == [{"user": u(f), "online": False} for f in friends]
    await close(ann)


async def test_inbox_join_reply_lists_the_friends_online_then_presence_follows(world):
    w = await world
    await run(make_friends, w.ann, w.mod)
    ben_tab = await connect(w.ben)
    cat_tab = await connect(w.cat)  # online, but not a friend
    mod_tab = await connect(w.mod)

    ann, reply = await joined(w.ann, "inbox")
    assert reply["friends_online"] == sorted([w.ben.pk, w.mod.pk])

    await close(mod_tab)
    assert [e["payload"] for e in await arrived(ann, "presence")] == [{"user": u(w.mod), "online": False}]
    # A re-join (as after a reconnect) answers from the current state.
    again = await ann.join("inbox")
    assert again["payload"]["friends_online"] == [w.ben.pk]
    await close(ben_tab, cat_tab)
    _, fresh = await joined(w.ann, "inbox")
    assert fresh["friends_online"] == []
    await close(ann)


async def test_conversation_is_online_follows_connections(world):
    w = await world
    await run(services.dm_send, sender=w.ann, recipient_id=w.ben.pk, body="hi", client_id="x")

    def ben_is_online() -> bool:
        [entry] = rest_as(w.ann).get("/api/chat/conversations/").json()["results"]
        return entry["is_online"]

    assert await run(ben_is_online) is False
    ben = await connect(w.ben)
    assert await run(ben_is_online) is True
    await close(ben)
    assert await run(ben_is_online) is False


async def test_new_friend_can_be_messaged_and_old_inbox_state_rechecks_friendship(world):
    w = await world
    cat, _ = await joined(w.cat, "inbox")
    await run(user_follow, follower=w.cat, followee_id=w.ann.pk)
    await run(user_follow, follower=w.ann, followee_id=w.cat.pk)

    # The send re-checks friendship in the database, so it works without re-joining.
    reply = await send(cat, "inbox", "dm.send", to=w.ann.pk, body="friends now", client_id="f")
    assert reply["ok"]
    await close(cat)


async def test_resuming_after_a_delete_never_replays_the_text(world):
    w = await world
    ben, reply = await joined(w.ben, "inbox")
    last_seen = reply["seq"]
    await close(ben)

    def send_then_delete() -> None:
        message, _ = services.dm_send(sender=w.ann, recipient_id=w.ben.pk, body="sent by mistake", client_id="m")
        services.dm_delete(user=w.ann, message_id=message.pk)

    await run(send_then_delete)
    ben, reply = await joined(w.ben, "inbox", since=last_seen)

    assert [e["event"] for e in reply["missed"]] == ["dm.created", "dm.deleted"]
    assert all(e["payload"]["message"]["deleted"] and e["payload"]["message"]["body"] == "" for e in reply["missed"])
    assert "mistake" not in str(reply)
    assert reply["unread"]["dms"] == 0
    await close(ben)


async def test_sends_arriving_together_are_committed_together_each_answered(world):
    """Group commit: every send of a burst gets its own reply after its commit; a refused
    one gets its error and the others still go through, each message stored once."""
    w = await world
    await run(services.message_create, user=w.ann, channel_id=w.secret.pk, body="elsewhere", client_id="taken")
    topic = f"chat:{w.general.pk}"
    (ann, _), (ann_phone, _), (ben, _) = [await joined(user, topic) for user in (w.ann, w.ann, w.ben)]
    sends = [(client, f"m{i}-{n}") for n in range(3) for i, client in enumerate((ann, ann_phone, ben))]
    refs = [
        await client.send(op="send", topic=topic, event="message.create", payload={"body": cid, "client_id": cid})
        for client, cid in [*sends, (ann, "taken")]
    ]

    replies = []
    for (client, _), ref in zip([*sends, (ann, "taken")], refs, strict=True):
        while not any(message.get("ref") == ref for message in client.backlog):
            client.backlog.append(await client.receive())
        replies.append(next(message for message in client.backlog if message.get("ref") == ref))
    *accepted, refused = replies
    assert refused["error"]["code"] == "conflict"
    assert all(reply["ok"] for reply in accepted), accepted
    assert sorted(reply["payload"]["message"]["client_id"] for reply in accepted) == sorted(cid for _, cid in sends)
    seqs = sorted(reply["payload"]["message"]["seq"] for reply in accepted)
    assert seqs == list(range(seqs[0], seqs[0] + len(sends)))
    stored = await run(lambda: sorted(Message.objects.filter(channel=w.general).values_list("client_id", flat=True)))
    assert stored == sorted(cid for _, cid in sends)
    created = await arrived(ben, "message.created")
    assert sorted(frame["seq"] for frame in created) == seqs
    await close(ann, ann_phone, ben)

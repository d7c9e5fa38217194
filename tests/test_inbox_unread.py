"""The inbox's `unread` object over the real ASGI stack, with chat's and notifications' parts
both changing: each of a user's inbox connections ends with the exact counters, and a
notification's event comes before the `unread` that counts it."""

from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory
from chat import services as chat_services
from chat.models import Membership
from chat.tests.factories import ChannelFactory
from notifications import services as notification_services
from realtime.api import unread_for_user
from realtime.testing import Client, open_client, token_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def run(function: Any, *args: Any, **kwargs: Any) -> Any:
    return database_sync_to_async(function)(*args, **kwargs)


async def joined(user: Any, topic: str) -> tuple[Client, dict[str, Any]]:
    client = await open_client(f"/ws/?token={token_for(user)}")
    reply = await client.join(topic)
    assert reply["ok"], reply
    return client, reply["payload"]


def make_channel() -> tuple[Any, Any, Any]:
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    channel = ChannelFactory(name="Team", slug="team", is_private=True, created_by=ann)
    for user in (ann, ben):
        Membership.objects.create(channel=channel, user=user)
    return ann, ben, channel


async def test_every_inbox_connection_ends_with_the_exact_unread_object():
    ann, ben, channel = await run(make_channel)
    topic = f"chat:{channel.pk}"
    author, _ = await joined(ann, topic)
    reader, _ = await joined(ben, topic)
    laptop, reply = await joined(ben, "inbox")
    phone, _ = await joined(ben, "inbox")
    assert reply["unread"] == {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {str(channel.pk): 0}}

    seqs = []
    for number in range(5):
        sent = await author.request(
            op="send", topic=topic, event="message.create", payload={"body": f"m{number}", "client_id": f"m{number}"}
        )
        seqs.append(sent["payload"]["message"])
    read = await reader.request(op="send", topic=topic, event="read", payload={"seq": seqs[1]["seq"]})
    assert read["ok"]
    await run(chat_services.message_delete, user=ann, message_id=seqs[3]["id"])
    await run(
        notification_services.notification_create,
        recipient=ben,
        kind="system",
        title="Maintenance tonight",
    )

    expected = await run(unread_for_user, user=ben)
    assert expected["channels"] == {str(channel.pk): 5 - 2 - 1} and expected["notifications"] == 1
    for inbox in (laptop, phone):
        frames = [frame for frame in await inbox.drain(quiet=1.2) if frame.get("op") == "event"]
        names = [frame["event"] for frame in frames]
        unread = [frame["payload"] for frame in frames if frame["event"] == "unread"]
        assert unread[-1] == expected
        # The notification's event comes before the first `unread` that counts it.
        counted = next(
            index
            for index, frame in enumerate(frames)
            if frame["event"] == "unread" and frame["payload"]["notifications"]
        )
        assert names.index("notification.created") < counted
    for client in (author, reader, laptop, phone):
        await client.disconnect()
